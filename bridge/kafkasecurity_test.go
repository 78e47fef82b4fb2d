package bridge

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestKafkaSecurityScramAgainstBroker(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(SASLScramSHA256, "bridge", "s3cret"))
	if err != nil {
		t.Fatalf("start kfake with SASL: %v", err)
	}
	defer cluster.Close()

	tests := []struct {
		name     string
		password string
		wantErr  bool
	}{
		{"right password", "s3cret", false},
		{"wrong password", "guess", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := KafkaSecurity{SASLMechanism: SASLScramSHA256, Username: "bridge", Password: tt.password}.Opts()
			if err != nil {
				t.Fatalf("Opts: %v", err)
			}
			client, err := kgo.NewClient(append(opts, kgo.SeedBrokers(cluster.ListenAddrs()...))...)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = client.Ping(ctx)
			if (err != nil) != tt.wantErr {
				t.Errorf("Ping error = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestKafkaSecurityInvalid(t *testing.T) {
	tests := []struct {
		name     string
		security KafkaSecurity
	}{
		{"unknown mechanism", KafkaSecurity{SASLMechanism: "PLAIN"}},
		{"scram without password", KafkaSecurity{SASLMechanism: SASLScramSHA512, Username: "u"}},
		{"iam without credentials", KafkaSecurity{TLS: true, SASLMechanism: SASLAWSMSKIAM}},
		{"iam without TLS", KafkaSecurity{SASLMechanism: SASLAWSMSKIAM, AWSCredentials: credentials.NewStaticCredentialsProvider("a", "b", "")}},
		{"certificate without key", KafkaSecurity{CertFile: "client.pem"}},
		{"missing CA file", KafkaSecurity{CAFile: "/nonexistent/ca.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.security.Opts(); err == nil {
				t.Error("Opts returned nil error")
			}
		})
	}
	if opts, err := (KafkaSecurity{TLS: true, SASLMechanism: SASLAWSMSKIAM, AWSCredentials: credentials.NewStaticCredentialsProvider("a", "b", "")}).Opts(); err != nil || len(opts) != 2 {
		t.Errorf("IAM over TLS: %d options, error %v; want TLS and SASL options", len(opts), err)
	}
}
