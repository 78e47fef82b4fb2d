package firehose

import (
	"errors"
	"regexp"
	"testing"
	"time"
)

func TestExpandPrefixNamespaces(t *testing.T) {
	at := time.Date(2024, 11, 5, 14, 3, 7, 0, time.FixedZone("EST", -5*3600))
	values := prefixValues{
		partitionKeys: map[string]string{"election_id": "us-2024"},
		timestamp:     at,
		errorType:     ErrorProcessingFailed,
	}
	cases := []struct {
		name   string
		prefix string
		want   *regexp.Regexp
	}{
		{"partitionKeyFromLambda is the processor's key", "e=!{partitionKeyFromLambda:election_id}/", regexp.MustCompile(`^e=us-2024/$`)},
		{"timestamp is arrival time in UTC", "!{timestamp:yyyy/MM/dd/HH/mm/ss}/", regexp.MustCompile(`^2024/11/05/19/03/07/$`)},
		{"error-output-type is the error type", "errors/!{firehose:error-output-type}/", regexp.MustCompile(`^errors/processing-failed/$`)},
		{"random-string is 11 characters", "r=!{firehose:random-string}/", regexp.MustCompile(`^r=[0-9a-z]{11}/$`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := expandPrefix(tc.prefix, values)
			if err != nil {
				t.Fatalf("expandPrefix(%q): %v", tc.prefix, err)
			}
			if !tc.want.MatchString(got) {
				t.Errorf("expandPrefix(%q) = %q, want a match of %s", tc.prefix, got, tc.want)
			}
		})
	}
}

func TestExpandPrefixMissingKey(t *testing.T) {
	_, err := expandPrefix("!{partitionKeyFromLambda:hour}/", prefixValues{})
	var missing missingKeyError
	if !errors.As(err, &missing) || missing.key != "hour" {
		t.Errorf("expandPrefix error = %v, want missingKeyError for hour", err)
	}
}

func TestRandomStringDiffersPerEvaluation(t *testing.T) {
	a, _ := expandPrefix("!{firehose:random-string}", prefixValues{})
	b, _ := expandPrefix("!{firehose:random-string}", prefixValues{})
	if a == b {
		t.Errorf("two evaluations returned the same random string %q", a)
	}
}
