package bridge

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"slices"

	fh "github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// PresizedPutRecordBatch is an option of the Firehose client that writes
// PutRecordBatch request bodies into one buffer of their final size. The
// SDK's own JSON serializer (smithy-go v1.28.9) starts every request at
// 1 KiB and grows it about 40 times on the way to a 5 MB body. Serializing
// a full call thus copied its bytes about five times over, and it cost more
// CPU per ballot than everything else the bridge does
// (BenchmarkSDKPutRecordBatch in bridge/bench).
//
// The body is byte for byte the one the SDK writes, and the method, path
// and headers come from the SDK's own protocol. Other operations, and
// inputs that the SDK would write differently (a missing member, a stream
// name outside Firehose's [a-zA-Z0-9_.-] pattern), go to the SDK's
// serializer unchanged.
func PresizedPutRecordBatch(o *fh.Options) {
	if o.Protocol != nil {
		o.Protocol = presizedProtocol{o.Protocol}
	}
}

// presizedProtocol is the SDK's client protocol with PutRecordBatch bodies
// written by appendPutRecordBatchBody.
type presizedProtocol struct {
	smithyhttp.ClientProtocol
}

func (p presizedProtocol) SerializeRequest(ctx context.Context, schema *smithy.OperationSchema, in smithy.Serializable, req *smithyhttp.Request) error {
	batch, ok := in.(*fh.PutRecordBatchInput)
	if !ok || !isPlainBatch(batch) {
		return p.ClientProtocol.SerializeRequest(ctx, schema, in, req)
	}

	// The SDK sets the method, path and headers from an input without
	// records, which costs nothing to serialize.
	header := &fh.PutRecordBatchInput{DeliveryStreamName: batch.DeliveryStreamName}
	if err := p.ClientProtocol.SerializeRequest(ctx, schema, header, req); err != nil {
		return err
	}
	withBody, err := req.SetStream(bytes.NewReader(appendPutRecordBatchBody(nil, batch)))
	if err != nil {
		return fmt.Errorf("set the PutRecordBatch request body: %w", err)
	}
	*req = *withBody
	return nil
}

// isPlainBatch reports whether appendPutRecordBatchBody writes in as the
// SDK does: every member present, and a stream name that needs no escaping.
func isPlainBatch(in *fh.PutRecordBatchInput) bool {
	if in.DeliveryStreamName == nil || in.Records == nil {
		return false
	}
	for _, c := range []byte(*in.DeliveryStreamName) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	for _, r := range in.Records {
		if r.Data == nil {
			return false
		}
	}
	return true
}

// appendPutRecordBatchBody appends the AWS JSON 1.1 body of in, which must
// satisfy isPlainBatch. It computes the body's size first, so that dst grows
// at most once.
func appendPutRecordBatchBody(dst []byte, in *fh.PutRecordBatchInput) []byte {
	const (
		head       = `{"DeliveryStreamName":"","Records":[]}`
		recordHead = `{"Data":"`
		recordTail = `"}`
	)
	size := len(head) + len(*in.DeliveryStreamName)
	for _, r := range in.Records {
		size += len(recordHead) + base64.StdEncoding.EncodedLen(len(r.Data)) + len(recordTail) + 1
	}
	dst = slices.Grow(dst, size)

	dst = append(dst, `{"DeliveryStreamName":"`...)
	dst = append(dst, *in.DeliveryStreamName...)
	dst = append(dst, `","Records":[`...)
	for i, r := range in.Records {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, recordHead...)
		dst = base64.StdEncoding.AppendEncode(dst, r.Data)
		dst = append(dst, recordTail...)
	}
	return append(dst, `]}`...)
}
