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
	dst = appendCastAtLayout(dst, timestamp)
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

// appendCastAtLayout appends t in CastAtLayout, as t.UTC().AppendFormat does
// for years 0 to 9999, without interpreting the layout for every envelope.
// Other years take AppendFormat.
func appendCastAtLayout(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, CastAtLayout)
	}
	hour, minute, second := t.Clock()
	millis := t.Nanosecond() / int(time.Millisecond)

	dst = appendDigits(dst, year, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(month), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, day, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, hour, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, minute, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, second, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, millis, 3)
	return append(dst, 'Z')
}

// appendDigits appends the width lowest decimal digits of the non-negative
// n, padded with zeros.
func appendDigits(dst []byte, n, width int) []byte {
	start := len(dst)
	for range width {
		dst = append(dst, 0)
	}
	for i := len(dst) - 1; i >= start; i-- {
		dst[i] = byte('0' + n%10)
		n /= 10
	}
	return dst
}
