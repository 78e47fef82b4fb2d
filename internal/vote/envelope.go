package vote

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// AppendEnvelope appends the JSON of an Envelope to dst without reflection,
// because the bridge writes one per ballot. raw must be valid JSON, as
// ParseVote has checked. It is copied as it is, or compacted when it holds
// line breaks, because envelopes are separated by newlines. topic must be a
// legal Kafka topic name (letters, digits, '.', '_' and '-'), which needs no
// escaping. The output decodes to the same Envelope as json.Marshal's.
func AppendEnvelope(dst []byte, topic string, partition int32, offset int64, timestamp time.Time, raw []byte) []byte {
	dst = append(dst, `{"topic":"`...)
	dst = append(dst, topic...)
	dst = append(dst, `","partition":`...)
	dst = strconv.AppendInt(dst, int64(partition), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, offset, 10)
	dst = append(dst, `,"timestamp":"`...)
	dst = timestamp.UTC().AppendFormat(dst, CastAtLayout)
	dst = append(dst, `","vote":`...)
	if bytes.ContainsAny(raw, "\r\n") {
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err == nil {
			raw = compact.Bytes()
		}
	}
	dst = append(dst, raw...)
	return append(dst, '}')
}
