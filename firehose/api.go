package firehose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Limits of the Firehose API, from the PutRecordBatch API reference.
const (
	MaxBatchRecords = 500
	MaxBatchBytes   = 4 << 20    // 4 MiB of record data per call, before base64
	MaxRecordBytes  = 1000 << 10 // 1,000 KiB per record, before base64

	// maxBodyBytes bounds the request body: 4 MiB of data is about 5.4 MiB
	// in base64, plus the JSON around 500 records.
	maxBodyBytes = 8 << 20

	targetPrefix = "Firehose_20150804."
)

// AWS error types that the API returns in __type.
const (
	errInvalidArgument    = "InvalidArgumentException"
	errResourceNotFound   = "ResourceNotFoundException"
	errServiceUnavailable = "ServiceUnavailableException"
	errUnknownOperation   = "UnknownOperationException"
	errSerialization      = "SerializationException"
)

// apiError is an error response of the AWS JSON 1.1 protocol.
type apiError struct {
	status  int
	typ     string
	message string
}

func (e *apiError) Error() string { return e.typ + ": " + e.message }

func invalidArgument(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, errInvalidArgument, fmt.Sprintf(format, args...)}
}

// ServeHTTP implements the Firehose operations PutRecord, PutRecordBatch,
// DescribeDeliveryStream and ListDeliveryStreams of the AWS JSON 1.1
// protocol: POST / with the operation in X-Amz-Target. Requests are not
// authenticated; the SigV4 signature of an SDK client is ignored.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", uuid.NewString())
	operation, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if r.Method != http.MethodPost || !ok {
		writeError(w, &apiError{http.StatusBadRequest, errUnknownOperation,
			fmt.Sprintf("expected POST with header X-Amz-Target: %s<Operation>, got %s with %q", targetPrefix, r.Method, r.Header.Get("X-Amz-Target"))})
		return
	}

	body, err := readBody(http.MaxBytesReader(w, r.Body, maxBodyBytes), r.ContentLength)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, invalidArgument("request body exceeds %d bytes; a PutRecordBatch call takes at most %d bytes of record data", maxBodyBytes, MaxBatchBytes))
			return
		}
		writeError(w, &apiError{http.StatusBadRequest, errSerialization, "read request body: " + err.Error()})
		return
	}

	var response any
	var apiErr *apiError
	switch operation {
	case "PutRecordBatch":
		response, apiErr = s.putRecordBatch(r.Context(), body)
	case "PutRecord":
		response, apiErr = s.putRecord(body)
	case "DescribeDeliveryStream":
		response, apiErr = s.describeDeliveryStream(body)
	case "ListDeliveryStreams":
		response, apiErr = s.listDeliveryStreams(body)
	default:
		apiErr = &apiError{http.StatusBadRequest, errUnknownOperation, fmt.Sprintf("operation %s is not supported by the local Firehose", operation)}
	}
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	writeJSON(w, http.StatusOK, response)
}

// readBody reads a request body of contentLength bytes, or of unknown length
// when contentLength is -1, into one buffer of that size.
func readBody(body io.Reader, contentLength int64) ([]byte, error) {
	var buf bytes.Buffer
	if contentLength > 0 && contentLength <= maxBodyBytes {
		// ReadFrom grows the buffer while less than MinRead bytes are free,
		// so that much more spares it a copy at the end of the body.
		buf.Grow(int(contentLength) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(body)
	return buf.Bytes(), err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("x-amzn-ErrorType", e.typ)
	writeJSON(w, e.status, map[string]string{"__type": e.typ, "message": e.message})
}

func decodeRequest(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{http.StatusBadRequest, errSerialization, "invalid request JSON: " + err.Error()}
	}
	return nil
}

// stream returns the stream a request names.
func (s *Server) stream(name string) (*streamState, *apiError) {
	if name == "" {
		return nil, invalidArgument("DeliveryStreamName is missing")
	}
	st, ok := s.streams[name]
	if !ok {
		return nil, &apiError{http.StatusBadRequest, errResourceNotFound,
			fmt.Sprintf("Firehose %s under account %s not found; streams defined: %s", name, LocalAccountID, strings.Join(s.names, ", "))}
	}
	return st, nil
}

type recordInput struct {
	Data []byte
}

type putRecordBatchInput struct {
	DeliveryStreamName string
	Records            []recordInput
}

type putRecordBatchEntry struct {
	RecordId     string `json:"RecordId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

type putRecordBatchOutput struct {
	FailedPutCount   int                   `json:"FailedPutCount"`
	Encrypted        bool                  `json:"Encrypted"`
	RequestResponses []putRecordBatchEntry `json:"RequestResponses"`
}

func (s *Server) putRecordBatch(ctx context.Context, body []byte) (any, *apiError) {
	in, apiErr := decodePutRecordBatch(body)
	if apiErr != nil {
		return nil, apiErr
	}
	st, apiErr := s.stream(in.DeliveryStreamName)
	if apiErr != nil {
		return nil, apiErr
	}
	if len(in.Records) == 0 {
		return nil, invalidArgument("Records is empty; send 1 to %d records", MaxBatchRecords)
	}
	if len(in.Records) > MaxBatchRecords {
		return nil, invalidArgument("Records has %d records; a PutRecordBatch call takes at most %d", len(in.Records), MaxBatchRecords)
	}
	records := make([][]byte, len(in.Records))
	total := 0
	for i, r := range in.Records {
		if err := checkRecord(i, r.Data); err != nil {
			return nil, err
		}
		total += len(r.Data)
		records[i] = r.Data
	}
	if total > MaxBatchBytes {
		return nil, invalidArgument("Records hold %d bytes of data; a PutRecordBatch call takes at most %d bytes (4 MiB)", total, MaxBatchBytes)
	}

	call, err := s.faults.draw(ctx, len(records))
	if err != nil {
		return nil, &apiError{http.StatusServiceUnavailable, errServiceUnavailable, "request ended during injected latency: " + err.Error()}
	}
	if call.throttle {
		return nil, errThrottled
	}
	entries, failed, err := s.putWithFaults(st, records, call)
	if err != nil {
		return nil, &apiError{http.StatusServiceUnavailable, errServiceUnavailable, "records were not accepted: " + err.Error()}
	}
	if call.dropResponse {
		abortResponse()
	}
	return putRecordBatchOutput{FailedPutCount: failed, RequestResponses: entries}, nil
}

func checkRecord(i int, data []byte) *apiError {
	if len(data) == 0 {
		return invalidArgument("Records[%d].Data is empty", i)
	}
	if len(data) > MaxRecordBytes {
		return invalidArgument("Records[%d].Data has %d bytes; a record is at most %d bytes (1,000 KiB) before base64", i, len(data), MaxRecordBytes)
	}
	return nil
}

func (s *Server) putRecord(body []byte) (any, *apiError) {
	var in struct {
		DeliveryStreamName string
		Record             recordInput
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	st, apiErr := s.stream(in.DeliveryStreamName)
	if apiErr != nil {
		return nil, apiErr
	}
	if err := checkRecord(0, in.Record.Data); err != nil {
		err.message = strings.Replace(err.message, "Records[0]", "Record", 1)
		return nil, err
	}
	ids, err := s.put(st, [][]byte{in.Record.Data})
	if err != nil {
		return nil, &apiError{http.StatusServiceUnavailable, errServiceUnavailable, "record was not accepted: " + err.Error()}
	}
	return map[string]any{"RecordId": ids[0], "Encrypted": false}, nil
}

func (s *Server) listDeliveryStreams(body []byte) (any, *apiError) {
	var in struct {
		Limit                            int
		ExclusiveStartDeliveryStreamName string
	}
	if len(body) > 0 {
		if err := decodeRequest(body, &in); err != nil {
			return nil, err
		}
	}
	limit := in.Limit
	if limit <= 0 {
		limit = 10
	}
	names := []string{}
	start := sort.SearchStrings(s.names, in.ExclusiveStartDeliveryStreamName)
	for _, name := range s.names[start:] {
		if name == in.ExclusiveStartDeliveryStreamName {
			continue
		}
		names = append(names, name)
	}
	more := len(names) > limit
	if more {
		names = names[:limit]
	}
	return map[string]any{"DeliveryStreamNames": names, "HasMoreDeliveryStreams": more}, nil
}

func (s *Server) describeDeliveryStream(body []byte) (any, *apiError) {
	var in struct{ DeliveryStreamName string }
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	st, apiErr := s.stream(in.DeliveryStreamName)
	if apiErr != nil {
		return nil, apiErr
	}
	cfg := st.cfg

	dest := map[string]any{
		"BucketARN":         s3ARNPrefix + cfg.Bucket,
		"RoleARN":           "arn:" + LocalPartition + ":iam::" + LocalAccountID + ":role/local-firehose",
		"Prefix":            cfg.Prefix,
		"ErrorOutputPrefix": cfg.ErrorOutputPrefix,
		"BufferingHints": map[string]any{
			"SizeInMBs":         cfg.BufferSize >> 20,
			"IntervalInSeconds": int64(cfg.BufferInterval.Seconds()),
		},
		"CompressionFormat":                "UNCOMPRESSED",
		"EncryptionConfiguration":          map[string]any{"NoEncryptionConfig": "NoEncryption"},
		"DynamicPartitioningConfiguration": map[string]any{"Enabled": cfg.DynamicPartitioning},
	}
	if p := cfg.Processor; p != nil {
		dest["ProcessingConfiguration"] = map[string]any{
			"Enabled": true,
			"Processors": []any{map[string]any{
				"Type": "Lambda",
				"Parameters": []any{
					map[string]string{"ParameterName": "LambdaArn", "ParameterValue": p.FunctionARN},
					map[string]string{"ParameterName": "BufferSizeInMBs", "ParameterValue": strconv.FormatFloat(float64(p.BufferSize)/(1<<20), 'f', -1, 64)},
					map[string]string{"ParameterName": "BufferIntervalInSeconds", "ParameterValue": strconv.FormatInt(int64(p.BufferInterval.Seconds()), 10)},
					map[string]string{"ParameterName": "NumberOfRetries", "ParameterValue": strconv.Itoa(p.NumberOfRetries)},
				},
			}},
		}
	}
	if c := cfg.Conversion; c != nil {
		dest["DataFormatConversionConfiguration"] = map[string]any{
			"Enabled":                   true,
			"InputFormatConfiguration":  map[string]any{"Deserializer": map[string]any{"OpenXJsonSerDe": map[string]any{}}},
			"OutputFormatConfiguration": map[string]any{"Serializer": map[string]any{"ParquetSerDe": map[string]any{"Compression": c.Compression}}},
			"SchemaConfiguration": map[string]any{
				"CatalogId":    LocalAccountID,
				"DatabaseName": c.Database,
				"TableName":    c.Table,
				"Region":       LocalRegion,
				"VersionId":    "LATEST",
			},
		}
	}

	created := float64(s.created.UnixMilli()) / 1000
	return map[string]any{
		"DeliveryStreamDescription": map[string]any{
			"DeliveryStreamName":   cfg.Name,
			"DeliveryStreamARN":    cfg.ARN,
			"DeliveryStreamStatus": "ACTIVE",
			"DeliveryStreamType":   "DirectPut",
			"VersionId":            "1",
			"CreateTimestamp":      created,
			"HasMoreDestinations":  false,
			"Destinations": []any{map[string]any{
				"DestinationId":                    "destinationId-000000000001",
				"ExtendedS3DestinationDescription": dest,
			}},
		},
	}, nil
}
