// Package firehose is a local Amazon Data Firehose for the delivery streams
// of sam-template.yaml.
//
// LoadTemplate reads the streams from the template, so that the local run
// and the AWS deployment share one definition: prefix, error prefix,
// buffering hints, Lambda processor and the Glue table whose columns drive
// record format conversion. Server serves the Firehose JSON API
// (PutRecord, PutRecordBatch, DescribeDeliveryStream, ListDeliveryStreams)
// on loopback for aws-sdk-go-v2 clients, spools accepted records to disk,
// calls an in-process ProcessorFunc with a real KinesisFirehoseEvent,
// converts the JSON rows to Parquet with OpenX JSON SerDe rules, and writes
// objects under LakeDir/<bucket>/<evaluated prefix>, or error documents
// under the error output prefix.
package firehose
