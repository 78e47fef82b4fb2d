package firehose

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Error output types: the value of !{firehose:error-output-type} and the
// keys of Stats.ErrorRecords.
const (
	ErrorProcessingFailed       = "processing-failed"
	ErrorPartitioningFailed     = "partitioning-failed"
	ErrorFormatConversionFailed = "format-conversion-failed"
	// ErrorActivePartitionExceeded is the type of records that would have
	// opened a delivery buffer past the stream's active partition limit.
	// AWS spells it in camel case, unlike the other types.
	ErrorActivePartitionExceeded = "activePartitionExceeded"
)

// prefixValues are the values that !{namespace:key} expressions of a prefix
// evaluate to.
type prefixValues struct {
	partitionKeys map[string]string
	timestamp     time.Time
	errorType     string
}

// missingKeyError reports a partition key that the prefix needs and the
// processor did not return.
type missingKeyError struct{ key string }

func (e missingKeyError) Error() string {
	return fmt.Sprintf("partition key %q is missing from metadata.partitionKeys", e.key)
}

// expandPrefix evaluates the !{...} expressions of an S3 prefix:
// partitionKeyFromLambda:KEY, timestamp:FORMAT (in UTC),
// firehose:error-output-type and firehose:random-string.
func expandPrefix(prefix string, v prefixValues) (string, error) {
	var out strings.Builder
	rest := prefix
	for {
		start := strings.Index(rest, "!{")
		if start < 0 {
			out.WriteString(rest)
			return out.String(), nil
		}
		end := strings.IndexByte(rest[start:], '}')
		if end < 0 {
			return "", fmt.Errorf("prefix %q: unclosed !{", prefix)
		}
		out.WriteString(rest[:start])
		expr := rest[start+2 : start+end]
		rest = rest[start+end+1:]

		namespace, key, _ := strings.Cut(expr, ":")
		switch namespace {
		case "partitionKeyFromLambda":
			value, ok := v.partitionKeys[key]
			if !ok || value == "" {
				return "", missingKeyError{key}
			}
			out.WriteString(value)
		case "timestamp":
			out.WriteString(v.timestamp.UTC().Format(jodaLayout(key)))
		case "firehose":
			switch key {
			case "error-output-type":
				if v.errorType == "" {
					return "", fmt.Errorf("prefix %q: !{firehose:error-output-type} is only valid in the error output prefix", prefix)
				}
				out.WriteString(v.errorType)
			case "random-string":
				out.WriteString(strings.ReplaceAll(uuid.NewString(), "-", "")[:11])
			default:
				return "", fmt.Errorf("prefix %q: unknown expression !{%s}", prefix, expr)
			}
		default:
			// NOTE: partitionKeyFromQuery (jq inline parsing) is not implemented locally.
			return "", fmt.Errorf("prefix %q: expression !{%s} is not supported locally", prefix, expr)
		}
	}
}

// jodaLayout converts the Joda-Time (Java DateTimeFormatter) pattern letters
// that S3 prefixes use (yyyy, MM, dd, HH, mm, ss) to a Go time layout.
// Other characters pass through as literals.
func jodaLayout(pattern string) string {
	replacer := strings.NewReplacer("yyyy", "2006", "MM", "01", "dd", "02", "HH", "15", "mm", "04", "ss", "05")
	return replacer.Replace(pattern)
}

// prefixKeys returns the partitionKeyFromLambda keys of a prefix, in order.
func prefixKeys(prefix string) []string {
	var keys []string
	const marker = "!{partitionKeyFromLambda:"
	for {
		start := strings.Index(prefix, marker)
		if start < 0 {
			return keys
		}
		prefix = prefix[start+len(marker):]
		end := strings.IndexByte(prefix, '}')
		if end < 0 {
			return keys
		}
		keys = append(keys, prefix[:end])
		prefix = prefix[end+1:]
	}
}

// objectName returns the S3 object name Firehose gives a delivered object:
// <prefix><stream>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid>, with
// version 1 because the local stream configuration never changes.
func objectName(prefix, stream string, at time.Time, extension string) string {
	return prefix + stream + "-1-" + at.UTC().Format("2006-01-02-15-04-05") + "-" + uuid.NewString() + extension
}
