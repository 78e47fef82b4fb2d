package kafkasec

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/kafkasec/kafkasectest"
)

// pingWith connects to the cluster with cfg and returns the result of one
// Ping, which fails when the TLS handshake or SASL authentication fails.
func pingWith(t *testing.T, cluster *kfake.Cluster, cfg Config, timeout time.Duration) error {
	t.Helper()
	opts, err := cfg.Opts()
	if err != nil {
		t.Fatalf("Opts: %v", err)
	}
	client, err := kgo.NewClient(append(opts, kgo.SeedBrokers(cluster.ListenAddrs()...))...)
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return client.Ping(ctx)
}

func TestTLSAndScramAgainstBroker(t *testing.T) {
	ca := kafkasectest.NewCA(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(ca.ServerTLS),
		kfake.EnableSASL(), kfake.Superuser(SASLScramSHA512, "tally", "s3cret"))
	if err != nil {
		t.Fatalf("start kfake with TLS and SASL: %v", err)
	}
	defer cluster.Close()

	otherCA := kafkasectest.NewCA(t)
	tests := []struct {
		name string
		cfg  Config
		// wantErr is a part of the expected Ping error; empty expects none.
		// kfake closes the connection on a failed SASL exchange, so the
		// client sees EOF.
		wantErr string
	}{
		{"CA file and right password", Config{CAFile: ca.File, SASLMechanism: SASLScramSHA512, Username: "tally", Password: "s3cret"}, ""},
		{"mechanism in lower case", Config{CAFile: ca.File, SASLMechanism: "scram-sha-512", Username: "tally", Password: "s3cret"}, ""},
		{"wrong password", Config{CAFile: ca.File, SASLMechanism: SASLScramSHA512, Username: "tally", Password: "guess"}, "EOF"},
		{"CA that did not sign the broker", Config{CAFile: otherCA.File, SASLMechanism: SASLScramSHA512, Username: "tally", Password: "s3cret"}, "unknown authority"},
		{"system roots", Config{TLS: true, SASLMechanism: SASLScramSHA512, Username: "tally", Password: "s3cret"}, "unknown authority"},
		{"server name not in the certificate", Config{CAFile: ca.File, ServerName: "b-1.example.test", SASLMechanism: SASLScramSHA512, Username: "tally", Password: "s3cret"}, "not b-1.example.test"},
		{"plain text to a TLS listener", Config{SASLMechanism: SASLScramSHA512, Username: "tally", Password: "s3cret"}, "TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pingWith(t, cluster, tt.cfg, 10*time.Second)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Ping: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Ping succeeded, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Ping error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigInvalid(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"unknown mechanism", Config{SASLMechanism: "PLAIN"}},
		{"scram without password", Config{SASLMechanism: SASLScramSHA512, Username: "u"}},
		{"iam without credentials", Config{TLS: true, SASLMechanism: SASLAWSMSKIAM}},
		{"iam without TLS", Config{SASLMechanism: SASLAWSMSKIAM, AWSCredentials: credentials.NewStaticCredentialsProvider("a", "b", "")}},
		{"certificate without key", Config{CertFile: "client.pem"}},
		{"missing CA file", Config{CAFile: "/nonexistent/ca.pem"}},
		{"CA file without PEM", Config{CAFile: notPEM}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.cfg.Opts(); err == nil {
				t.Error("Opts returned nil error")
			}
		})
	}
}

func TestConfigOptionCounts(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("a", "b", "")
	tests := []struct {
		name string
		cfg  Config
		want int
	}{
		{"zero value is plain text", Config{}, 0},
		{"TLS only", Config{TLS: true}, 1},
		{"server name implies TLS", Config{ServerName: "b-1.example.test"}, 1},
		{"SCRAM without TLS", Config{SASLMechanism: SASLScramSHA256, Username: "u", Password: "p"}, 1},
		{"IAM over TLS", Config{TLS: true, SASLMechanism: SASLAWSMSKIAM, AWSCredentials: creds}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := tt.cfg.Opts()
			if err != nil {
				t.Fatalf("Opts: %v", err)
			}
			if len(opts) != tt.want {
				t.Errorf("Opts returned %d options, want %d", len(opts), tt.want)
			}
		})
	}
}
