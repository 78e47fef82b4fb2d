package transform

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
)

// Event is the input of a Firehose transformation invocation from either kind
// of source. events.KinesisFirehoseEvent from aws-lambda-go (v1.55.1) models
// only the Direct PUT and Kinesis shape, which has no kafkaRecordValue.
type Event struct {
	InvocationID      string `json:"invocationId"`
	DeliveryStreamArn string `json:"deliveryStreamArn"`
	// SourceMSKArn is set when the stream reads an MSK cluster.
	SourceMSKArn string        `json:"sourceMSKArn,omitempty"`
	Region       string        `json:"region"`
	Records      []EventRecord `json:"records"`
}

// EventRecord is one input record. Exactly one of Data (Direct PUT, Kinesis)
// and KafkaRecordValue (MSK) is set; both are base64 in JSON.
type EventRecord struct {
	RecordID                    string             `json:"recordId"`
	ApproximateArrivalTimestamp int64              `json:"approximateArrivalTimestamp"`
	Data                        []byte             `json:"data,omitempty"`
	KafkaRecordValue            []byte             `json:"kafkaRecordValue,omitempty"`
	MSKRecordMetadata           *MSKRecordMetadata `json:"mskRecordMetadata,omitempty"`
}

// FromMSK reports whether r came from an MSK source.
func (r EventRecord) FromMSK() bool {
	return r.KafkaRecordValue != nil || r.MSKRecordMetadata != nil
}

// MSKRecordMetadata is where Firehose read an MSK record. Firehose sends
// offset and partitionId as JSON strings; numbers are accepted too.
type MSKRecordMetadata struct {
	Offset      flexInt `json:"offset"`
	PartitionID flexInt `json:"partitionId"`
	// ApproximateArrivalTimestamp is in milliseconds since the Unix epoch.
	ApproximateArrivalTimestamp flexInt `json:"approximateArrivalTimestamp"`
}

// flexInt is an integer that JSON may carry as a number or a decimal string.
type flexInt int64

func (n *flexInt) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		s = string(data)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not an integer", data)
	}
	*n = flexInt(v)
	return nil
}

// Response is the output of a transformation invocation.
type Response struct {
	Records []ResponseRecord `json:"records"`
}

// ResponseRecord is one output record.
type ResponseRecord struct {
	RecordID string
	// Result is events.KinesisFirehoseTransformedStateOk or
	// events.KinesisFirehoseTransformedStateProcessingFailed.
	Result string
	// Data is the output payload, written as base64 under "data", or under
	// "kafkaRecordValue" when FromMSK is set. Firehose writes the input
	// record, not Data, to the error prefix of a failed record.
	Data []byte
	// PartitionKeys are the values of glue.PartitionKeys, nil for a failed record.
	PartitionKeys map[string]string
	FromMSK       bool
}

// responseRecordJSON is the wire shape of ResponseRecord.
type responseRecordJSON struct {
	RecordID         string            `json:"recordId"`
	Result           string            `json:"result"`
	Data             *[]byte           `json:"data,omitempty"`
	KafkaRecordValue *[]byte           `json:"kafkaRecordValue,omitempty"`
	Metadata         *responseMetadata `json:"metadata,omitempty"`
}

type responseMetadata struct {
	PartitionKeys map[string]string `json:"partitionKeys"`
}

// MarshalJSON writes the record in the shape Firehose expects from its source.
// The payload field is always present, empty for a failed record.
func (r ResponseRecord) MarshalJSON() ([]byte, error) {
	data := r.Data
	if data == nil {
		data = []byte{}
	}
	out := responseRecordJSON{RecordID: r.RecordID, Result: r.Result}
	if r.FromMSK {
		out.KafkaRecordValue = &data
	} else {
		out.Data = &data
	}
	if r.PartitionKeys != nil {
		out.Metadata = &responseMetadata{PartitionKeys: r.PartitionKeys}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads either shape, for a local Firehose and for tests.
func (r *ResponseRecord) UnmarshalJSON(data []byte) error {
	var in responseRecordJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	*r = ResponseRecord{RecordID: in.RecordID, Result: in.Result}
	switch {
	case in.KafkaRecordValue != nil:
		r.Data, r.FromMSK = *in.KafkaRecordValue, true
	case in.Data != nil:
		r.Data = *in.Data
	}
	if in.Metadata != nil {
		r.PartitionKeys = in.Metadata.PartitionKeys
	}
	return nil
}

// eventFromLambda converts aws-lambda-go's Direct PUT event.
func eventFromLambda(ev events.KinesisFirehoseEvent) Event {
	out := Event{InvocationID: ev.InvocationID, DeliveryStreamArn: ev.DeliveryStreamArn, Region: ev.Region}
	out.Records = make([]EventRecord, len(ev.Records))
	for i, r := range ev.Records {
		data := r.Data
		if data == nil {
			data = []byte{}
		}
		out.Records[i] = EventRecord{
			RecordID:                    r.RecordID,
			ApproximateArrivalTimestamp: r.ApproximateArrivalTimestamp.UnixMilli(),
			Data:                        data,
		}
	}
	return out
}

// lambdaRecord converts a response record to aws-lambda-go's type.
func lambdaRecord(r ResponseRecord) events.KinesisFirehoseResponseRecord {
	data := r.Data
	if data == nil {
		data = []byte{}
	}
	return events.KinesisFirehoseResponseRecord{
		RecordID: r.RecordID,
		Result:   r.Result,
		Data:     data,
		Metadata: events.KinesisFirehoseResponseRecordMetadata{PartitionKeys: r.PartitionKeys},
	}
}
