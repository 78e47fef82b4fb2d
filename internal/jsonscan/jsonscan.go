// Package jsonscan has the few steps of a JSON scanner that votestream's
// single-pass decoders share. Those decoders read only the plain forms of
// their messages and leave everything else, including every error, to
// encoding/json.
package jsonscan

import "bytes"

// SkipSpace returns the index of the first byte at or after i that is not
// JSON whitespace, or len(p).
func SkipSpace(p []byte, i int) int {
	for i < len(p) {
		switch p[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// String reads the JSON string that starts at p[i] and returns the bytes
// between its quotes and the index after the closing quote. It reports false
// when p[i] is not a quote or the string is not closed. It does not decode
// escape sequences: a string that has one ends at the first quote after the
// opening one, escaped or not, so callers must reject a content with a
// backslash, as Plain does.
func String(p []byte, i int) (content []byte, next int, ok bool) {
	if i >= len(p) || p[i] != '"' {
		return nil, 0, false
	}
	end := bytes.IndexByte(p[i+1:], '"')
	if end < 0 {
		return nil, 0, false
	}
	return p[i+1 : i+1+end], i + 2 + end, true
}

// Plain reports whether content, read by String, has neither a backslash nor
// a control character, so that the JSON string decodes to content itself.
func Plain(content []byte) bool {
	for _, c := range content {
		if c == '\\' || c < 0x20 {
			return false
		}
	}
	return true
}
