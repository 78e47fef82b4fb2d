package firehose

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// errorRecord is a record on its way to the error prefix, with the JSON
// document Firehose writes for it.
type errorRecord struct {
	ref       spoolRef
	arrival   time.Time
	errorType string
	document  []byte
}

// processingFailedDocument is the document of a record whose processing
// failed, as described in "Handle failure in data transformation" of the
// Amazon Data Firehose developer guide.
type processingFailedDocument struct {
	AttemptsMade           int    `json:"attemptsMade"`
	ArrivalTimestamp       int64  `json:"arrivalTimestamp"`
	ErrorCode              string `json:"errorCode"`
	ErrorMessage           string `json:"errorMessage"`
	AttemptEndingTimestamp int64  `json:"attemptEndingTimestamp"`
	RawData                []byte `json:"rawData"`
	LambdaArn              string `json:"lambdaArn"`
}

// formatConversionFailedDocument is the document of a record that format
// conversion could not read, as described in "Handling errors for data
// format conversion" of the developer guide. The guide spells the error
// fields both ErrorCode and lastErrorCode in different versions; this uses
// lastErrorCode and lastErrorMessage.
type formatConversionFailedDocument struct {
	AttemptsMade           int              `json:"attemptsMade"`
	ArrivalTimestamp       int64            `json:"arrivalTimestamp"`
	LastErrorCode          string           `json:"lastErrorCode"`
	LastErrorMessage       string           `json:"lastErrorMessage"`
	AttemptEndingTimestamp int64            `json:"attemptEndingTimestamp"`
	RawData                []byte           `json:"rawData"`
	SequenceNumber         string           `json:"sequenceNumber"`
	SubSequenceNumber      *int64           `json:"subSequenceNumber"`
	DataCatalogTable       dataCatalogTable `json:"dataCatalogTable"`
}

type dataCatalogTable struct {
	CatalogID    string `json:"catalogId"`
	DatabaseName string `json:"databaseName"`
	TableName    string `json:"tableName"`
	Region       string `json:"region"`
	VersionID    string `json:"versionId"`
	CatalogArn   string `json:"catalogArn"`
}

// partitioningFailedDocument is the document of a record whose prefix could
// not be evaluated, or whose prefix would exceed the active partition limit.
// NOTE: the developer guide does not list this document's fields; these
// follow the processing-failed document, and the error code is a local name.
type partitioningFailedDocument struct {
	AttemptsMade           int    `json:"attemptsMade"`
	ArrivalTimestamp       int64  `json:"arrivalTimestamp"`
	ErrorCode              string `json:"errorCode"`
	ErrorMessage           string `json:"errorMessage"`
	AttemptEndingTimestamp int64  `json:"attemptEndingTimestamp"`
	RawData                []byte `json:"rawData"`
}

func (st *streamState) processingFailed(r pendingRecord, code, message string, attempts int) errorRecord {
	doc := processingFailedDocument{
		AttemptsMade:           attempts,
		ArrivalTimestamp:       r.arrival.UnixMilli(),
		ErrorCode:              code,
		ErrorMessage:           message,
		AttemptEndingTimestamp: st.srv.now().UnixMilli(),
		RawData:                r.data,
	}
	if st.cfg.Processor != nil {
		doc.LambdaArn = st.cfg.Processor.FunctionARN
	}
	return st.errorRecord(r, ErrorProcessingFailed, doc)
}

func (st *streamState) partitioningFailed(r pendingRecord, data []byte, err error) *errorRecord {
	rec := st.errorRecord(r, ErrorPartitioningFailed, partitioningFailedDocument{
		AttemptsMade:           1,
		ArrivalTimestamp:       r.arrival.UnixMilli(),
		ErrorCode:              "DynamicPartitioning.PartitionKeyMissing",
		ErrorMessage:           err.Error(),
		AttemptEndingTimestamp: st.srv.now().UnixMilli(),
		RawData:                data,
	})
	return &rec
}

func (st *streamState) activePartitionExceeded(r pendingRecord, data []byte, prefix string) *errorRecord {
	rec := st.errorRecord(r, ErrorActivePartitionExceeded, partitioningFailedDocument{
		AttemptsMade:           1,
		ArrivalTimestamp:       r.arrival.UnixMilli(),
		ErrorCode:              "DynamicPartitioning.ActivePartitionsLimitExceeded",
		ErrorMessage:           fmt.Sprintf("prefix %s would be active partition %d, over the stream's limit of %d", prefix, st.activePartitionLimit+1, st.activePartitionLimit),
		AttemptEndingTimestamp: st.srv.now().UnixMilli(),
		RawData:                data,
	})
	return &rec
}

func (st *streamState) formatConversionFailed(r pendingRecord, data []byte, err error) *errorRecord {
	conv := st.cfg.Conversion
	rec := st.errorRecord(r, ErrorFormatConversionFailed, formatConversionFailedDocument{
		AttemptsMade:           1,
		ArrivalTimestamp:       r.arrival.UnixMilli(),
		LastErrorCode:          "DataFormatConversion.MalformedData",
		LastErrorMessage:       err.Error(),
		AttemptEndingTimestamp: st.srv.now().UnixMilli(),
		RawData:                data,
		SequenceNumber:         r.ref.recordID(),
		DataCatalogTable: dataCatalogTable{
			CatalogID:    LocalAccountID,
			DatabaseName: conv.Database,
			TableName:    conv.Table,
			Region:       LocalRegion,
			VersionID:    "LATEST",
			CatalogArn:   "arn:" + LocalPartition + ":glue:" + LocalRegion + ":" + LocalAccountID + ":catalog",
		},
	})
	return &rec
}

func (st *streamState) errorRecord(r pendingRecord, errorType string, doc any) errorRecord {
	document, err := json.Marshal(doc)
	if err != nil {
		// The documents hold only strings, numbers and bytes, which always marshal.
		panic(err)
	}
	return errorRecord{ref: r.ref, arrival: r.arrival, errorType: errorType, document: document}
}

// writeErrors writes error records as newline-separated JSON documents,
// one object per evaluated error prefix, and acknowledges them in the
// spool once written.
func (st *streamState) writeErrors(ctx context.Context, records []errorRecord) {
	if len(records) == 0 {
		return
	}
	type group struct {
		body []byte
		refs []spoolRef
		typ  string
	}
	groups := map[string]*group{}
	var order []string
	for _, r := range records {
		prefix, err := expandPrefix(st.cfg.ErrorOutputPrefix, prefixValues{timestamp: r.arrival, errorType: r.errorType})
		if err != nil {
			st.srv.logger.Error("firehose: error output prefix is invalid; records stay in the spool", "stream", st.cfg.Name, "error", err)
			return
		}
		g := groups[prefix]
		if g == nil {
			g = &group{typ: r.errorType}
			groups[prefix] = g
			order = append(order, prefix)
		}
		g.body = append(append(g.body, r.document...), '\n')
		g.refs = append(g.refs, r.ref)
	}

	for _, prefix := range order {
		g := groups[prefix]
		key := objectName(prefix, st.cfg.Name, st.srv.now(), "")
		err := st.writeObject(ctx, key, func(w writer) error {
			_, err := w.Write(g.body)
			return err
		})
		if err != nil {
			st.srv.logger.Error("firehose: error output write failed; records stay in the spool", "stream", st.cfg.Name, "key", key, "error", err)
			continue
		}
		st.errorObjects.Add(1)
		st.errorRecords[g.typ].Add(int64(len(g.refs)))
		st.srv.logger.Warn("firehose: records written to the error prefix", "stream", st.cfg.Name, "error_output_type", g.typ, "records", len(g.refs), "key", key)
		if err := st.spool.ack(g.refs); err != nil {
			st.srv.logger.Error("firehose: spool acknowledgement failed", "stream", st.cfg.Name, "error", err)
		}
	}
}
