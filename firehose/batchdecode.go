package firehose

import (
	"bytes"
	"encoding/base64"

	"github.com/votestream/votestream/internal/jsonscan"
)

// decodePutRecordBatch decodes a PutRecordBatch request body.
//
// A body as the AWS SDKs write it, with only the DeliveryStreamName and
// Records members and without escape sequences in strings, takes a
// single-pass path that decodes the base64 of every record into one
// allocation. Every other body goes through json.Unmarshal, which also
// reports what is wrong with an invalid one, and both paths return the same
// input.
func decodePutRecordBatch(body []byte) (putRecordBatchInput, *apiError) {
	var in putRecordBatchInput
	if parsePlainBatch(body, &in) {
		return in, nil
	}
	in = putRecordBatchInput{}
	if err := decodeRequest(body, &in); err != nil {
		return putRecordBatchInput{}, err
	}
	return in, nil
}

// parsePlainBatch fills in from body when body has the plain form that
// decodePutRecordBatch describes, and reports whether it did. On false the
// caller decodes body again with json.Unmarshal, so this function never
// reports why it gave up.
func parsePlainBatch(body []byte, in *putRecordBatchInput) bool {
	var name []byte
	// data is the base64 of each record, in order, and nil while the body has
	// no Records member.
	var data [][]byte

	i := jsonscan.SkipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return false
	}
	i = jsonscan.SkipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		i++
	} else {
		for {
			key, next, ok := jsonscan.String(body, i)
			if !ok {
				return false
			}
			i = jsonscan.SkipSpace(body, next)
			if i == len(body) || body[i] != ':' {
				return false
			}
			i = jsonscan.SkipSpace(body, i+1)

			// Exact member names only: json.Unmarshal also matches them
			// without regard to case, which the fallback handles.
			switch string(key) {
			case "DeliveryStreamName":
				name, next, ok = jsonscan.String(body, i)
				if !ok || !isPlainName(name) {
					return false
				}
			case "Records":
				data, next, ok = scanRecords(body, i)
				if !ok {
					return false
				}
			default:
				return false
			}

			i = jsonscan.SkipSpace(body, next)
			if i == len(body) {
				return false
			}
			if body[i] == '}' {
				i++
				break
			}
			if body[i] != ',' {
				return false
			}
			i = jsonscan.SkipSpace(body, i+1)
		}
	}
	if jsonscan.SkipSpace(body, i) != len(body) {
		return false
	}

	records, ok := decodeRecords(data)
	if !ok {
		return false
	}
	in.DeliveryStreamName = string(name)
	if data != nil {
		in.Records = records
	}
	return true
}

// scanRecords reads the Records array that starts at body[i]: objects with
// one Data member each. It returns the base64 text of each record's data and
// the index after the closing bracket.
func scanRecords(body []byte, i int) ([][]byte, int, bool) {
	if i == len(body) || body[i] != '[' {
		return nil, 0, false
	}
	data := [][]byte{}
	i = jsonscan.SkipSpace(body, i+1)
	if i < len(body) && body[i] == ']' {
		return data, i + 1, true
	}
	for {
		if i == len(body) || body[i] != '{' {
			return nil, 0, false
		}
		key, next, ok := jsonscan.String(body, jsonscan.SkipSpace(body, i+1))
		if !ok || string(key) != "Data" {
			return nil, 0, false
		}
		i = jsonscan.SkipSpace(body, next)
		if i == len(body) || body[i] != ':' {
			return nil, 0, false
		}
		text, next, ok := jsonscan.String(body, jsonscan.SkipSpace(body, i+1))
		if !ok || !isPlainBase64(text) {
			return nil, 0, false
		}
		i = jsonscan.SkipSpace(body, next)
		if i == len(body) || body[i] != '}' {
			return nil, 0, false
		}
		data = append(data, text)

		i = jsonscan.SkipSpace(body, i+1)
		if i == len(body) {
			return nil, 0, false
		}
		if body[i] == ']' {
			return data, i + 1, true
		}
		if body[i] != ',' {
			return nil, 0, false
		}
		i = jsonscan.SkipSpace(body, i+1)
	}
}

// decodeRecords decodes the base64 text of each record into one shared
// buffer. Each record's slice is capped at its own length, so that appending
// to one never overwrites the next.
func decodeRecords(texts [][]byte) ([]recordInput, bool) {
	size := 0
	for _, text := range texts {
		size += base64.StdEncoding.DecodedLen(len(text))
	}
	buf := make([]byte, size)
	records := make([]recordInput, len(texts))
	at := 0
	for r, text := range texts {
		n, err := base64.StdEncoding.Decode(buf[at:], text)
		if err != nil {
			return nil, false
		}
		records[r].Data = buf[at : at+n : at+n]
		at += n
	}
	return records, true
}

// isPlainName reports whether p is plain ASCII, so that the JSON string it
// came from decodes to p itself. A non-ASCII name is left to json.Unmarshal,
// which replaces invalid UTF-8.
func isPlainName(p []byte) bool {
	for _, c := range p {
		if c >= 0x80 {
			return false
		}
	}
	return jsonscan.Plain(p)
}

// isPlainBase64 reports whether the JSON string content p decodes to itself
// as far as base64 matters. The base64 decoder rejects backslashes and
// control characters itself, except CR and LF, which it skips but JSON does
// not allow unescaped.
func isPlainBase64(p []byte) bool {
	return bytes.IndexByte(p, '\n') < 0 && bytes.IndexByte(p, '\r') < 0
}
