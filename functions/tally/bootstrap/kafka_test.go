package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/votestream/votestream/functions/tally"
	"github.com/votestream/votestream/internal/kafkasec"
	"github.com/votestream/votestream/internal/kafkasec/kafkasectest"
	"github.com/votestream/votestream/internal/vote"
)

const (
	testSecretARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:AmazonMSK_tally-AbCdEf"
	testBrokers   = "b-1.votes.abc123.c2.kafka.eu-west-1.amazonaws.com:9096,b-2.votes.abc123.c2.kafka.eu-west-1.amazonaws.com:9096"
)

// envOf returns a getenv over vars.
func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestParseKafkaSettingsModes(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte("any"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		env           map[string]string
		wantSecurity  kafkasec.Config
		wantSecretARN string
	}{
		{"plaintext", map[string]string{envBrokers: "127.0.0.1:9092"}, kafkasec.Config{}, ""},
		{"TLS with system roots", map[string]string{envBrokers: testBrokers, envTLS: "true"}, kafkasec.Config{TLS: true}, ""},
		{"TLS with CA file and server name", map[string]string{envBrokers: testBrokers, envTLS: "1", envTLSCA: caFile, envTLSServerName: "b-1.example.test"},
			kafkasec.Config{TLS: true, CAFile: caFile, ServerName: "b-1.example.test"}, ""},
		{"CA file implies TLS", map[string]string{envBrokers: testBrokers, envTLSCA: caFile}, kafkasec.Config{CAFile: caFile}, ""},
		{"SCRAM from a secret", map[string]string{envBrokers: testBrokers, envTLS: "true", envSASLMechanism: "SCRAM-SHA-512", envSASLSecretARN: testSecretARN},
			kafkasec.Config{TLS: true, SASLMechanism: kafkasec.SASLScramSHA512}, testSecretARN},
		{"SCRAM from the environment", map[string]string{envBrokers: testBrokers, envTLS: "true", envSASLMechanism: "scram-sha-256", envSASLUsername: "tally", envSASLPassword: "s3cret"},
			kafkasec.Config{TLS: true, SASLMechanism: kafkasec.SASLScramSHA256, Username: "tally", Password: "s3cret"}, ""},
		{"IAM", map[string]string{envBrokers: testBrokers, envTLS: "true", envSASLMechanism: "AWS_MSK_IAM"},
			kafkasec.Config{TLS: true, SASLMechanism: kafkasec.SASLAWSMSKIAM}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseKafkaSettings(envOf(tt.env))
			if err != nil {
				t.Fatalf("parseKafkaSettings: %v", err)
			}
			if !reflect.DeepEqual(s.security, tt.wantSecurity) {
				t.Errorf("security = %+v, want %+v", s.security, tt.wantSecurity)
			}
			if s.secretARN != tt.wantSecretARN {
				t.Errorf("secretARN = %q, want %q", s.secretARN, tt.wantSecretARN)
			}
			wantAWS := tt.wantSecretARN != "" || tt.wantSecurity.SASLMechanism == kafkasec.SASLAWSMSKIAM
			if s.needsAWS() != wantAWS {
				t.Errorf("needsAWS = %v, want %v", s.needsAWS(), wantAWS)
			}
		})
	}
}

func TestParseKafkaSettingsBrokersAndTopic(t *testing.T) {
	s, err := parseKafkaSettings(envOf(map[string]string{envBrokers: " b-1:9098, b-2:9098 ,", envTopic: "tallies"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b-1:9098", "b-2:9098"}; !reflect.DeepEqual(s.brokers, want) {
		t.Errorf("brokers = %q, want %q", s.brokers, want)
	}
	if s.topic != "tallies" {
		t.Errorf("topic = %q, want tallies", s.topic)
	}
}

func TestParseKafkaSettingsInvalid(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		// want are parts of the error: the variable, the bad value and the fix.
		want []string
	}{
		{"brokers missing", map[string]string{}, []string{envBrokers, "is not set", "host:port"}},
		{"broker without port", map[string]string{envBrokers: "b-1:9098,b-2"}, []string{envBrokers, `"b-2"`, "with its port"}},
		{"brokers only commas", map[string]string{envBrokers: ", ,"}, []string{envBrokers, "names no broker"}},
		{"TLS not a boolean", map[string]string{envBrokers: testBrokers, envTLS: "yes"}, []string{envTLS, `"yes"`, "use true or false"}},
		{"CA file with TLS off", map[string]string{envBrokers: testBrokers, envTLS: "false", envTLSCA: "/var/task/ca.pem"}, []string{envTLSCA, envTLS + `="false"`, "unset " + envTLSCA}},
		{"CA file missing", map[string]string{envBrokers: testBrokers, envTLS: "true", envTLSCA: "/nonexistent/ca.pem"}, []string{envTLSCA, "/nonexistent/ca.pem", "/var/task"}},
		{"certificate without key", map[string]string{envBrokers: testBrokers, envTLS: "true", envTLSCert: "/var/task/client.pem"}, []string{envTLSCert, envTLSKey, "both"}},
		{"unknown mechanism", map[string]string{envBrokers: testBrokers, envSASLMechanism: "PLAIN"}, []string{envSASLMechanism, `"PLAIN"`, "SCRAM-SHA-512", "AWS_MSK_IAM"}},
		{"IAM without TLS", map[string]string{envBrokers: testBrokers, envSASLMechanism: "AWS_MSK_IAM"}, []string{envSASLMechanism, envTLS + "=true", "9098"}},
		{"IAM with TLS off", map[string]string{envBrokers: testBrokers, envTLS: "false", envSASLMechanism: "AWS_MSK_IAM"}, []string{envTLS + "=true"}},
		{"IAM with a secret", map[string]string{envBrokers: testBrokers, envTLS: "true", envSASLMechanism: "AWS_MSK_IAM", envSASLSecretARN: testSecretARN},
			[]string{envSASLSecretARN + " is set", "IAM role", "unset " + envSASLSecretARN}},
		{"SCRAM without credentials", map[string]string{envBrokers: testBrokers, envTLS: "true", envSASLMechanism: "SCRAM-SHA-512"},
			[]string{envSASLMechanism, "needs credentials", envSASLSecretARN, envSASLUsername, envSASLPassword}},
		{"SCRAM with user name only", map[string]string{envBrokers: testBrokers, envTLS: "true", envSASLMechanism: "SCRAM-SHA-512", envSASLUsername: "tally"},
			[]string{"needs credentials", envSASLPassword}},
		{"SCRAM with secret and password", map[string]string{envBrokers: testBrokers, envTLS: "true", envSASLMechanism: "SCRAM-SHA-512", envSASLSecretARN: testSecretARN, envSASLPassword: "s3cret"},
			[]string{envSASLSecretARN + " and " + envSASLPassword + " are set", "unset"}},
		{"credentials without mechanism", map[string]string{envBrokers: testBrokers, envSASLUsername: "tally", envSASLPassword: "s3cret"},
			[]string{envSASLUsername + " and " + envSASLPassword + " are set", envSASLMechanism + "=SCRAM-SHA-512"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseKafkaSettings(envOf(tt.env))
			if err == nil {
				t.Fatal("parseKafkaSettings returned nil error")
			}
			for _, part := range tt.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err, part)
				}
			}
			if password := tt.env[envSASLPassword]; password != "" && strings.Contains(err.Error(), password) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

// fakeSecretsManager serves GetSecretValue on 127.0.0.1 for one secret and
// records what the SDK sent.
type fakeSecretsManager struct {
	server *httptest.Server
	arn    string
	// secretString is the secret's SecretString. With nil, the response
	// has none, as for a binary secret.
	secretString *string

	mu            sync.Mutex
	requestedIDs  []string
	authorization []string
}

func newFakeSecretsManager(t *testing.T, arn string, secretString *string) *fakeSecretsManager {
	f := &fakeSecretsManager{arn: arn, secretString: secretString}
	f.server = httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	t.Cleanup(f.server.Close)
	return f
}

func (f *fakeSecretsManager) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var in struct{ SecretId string }
	_ = json.Unmarshal(body, &in)
	f.mu.Lock()
	f.requestedIDs = append(f.requestedIDs, in.SecretId)
	f.authorization = append(f.authorization, r.Header.Get("Authorization"))
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || in.SecretId != f.arn {
		w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`)
		return
	}
	out := map[string]any{"ARN": f.arn, "Name": "AmazonMSK_tally", "VersionId": "v1"}
	if f.secretString != nil {
		out["SecretString"] = *f.secretString
	} else {
		out["SecretBinary"] = []byte{1, 2, 3}
	}
	json.NewEncoder(w).Encode(out)
}

// awsConfig returns an AWS configuration with static credentials that sends
// Secrets Manager calls to the fake.
func (f *fakeSecretsManager) awsConfig(t *testing.T) aws.Config {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTALLYTEST", "secret-key", "session-token"),
		BaseEndpoint: aws.String(f.server.URL),
	}
}

func TestReadSCRAMSecret(t *testing.T) {
	tests := []struct {
		name         string
		secretString *string
		arn          string
		wantUser     string
		wantErr      string
	}{
		{"username and password", aws.String(`{"username":"tally","password":"s3cret"}`), testSecretARN, "tally", ""},
		{"no password", aws.String(`{"username":"tally"}`), testSecretARN, "", `no "username" or no "password"`},
		{"not JSON", aws.String(`tally:s3cret`), testSecretARN, "", "not a JSON object"},
		{"binary secret", nil, testSecretARN, "", "no SecretString"},
		{"unknown secret", aws.String(`{}`), testSecretARN + "-other", "", "ResourceNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeSecretsManager(t, testSecretARN, tt.secretString)
			client := secretsmanager.NewFromConfig(fake.awsConfig(t))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			user, password, err := readSCRAMSecret(ctx, client, tt.arn)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("readSCRAMSecret: %v", err)
				}
				if user != tt.wantUser || password != "s3cret" {
					t.Errorf("credentials = %q, %q; want %q and the secret's password", user, password, tt.wantUser)
				}
				return
			}
			if err == nil {
				t.Fatalf("readSCRAMSecret returned nil error, want one containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want one containing %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.arn) {
				t.Errorf("error = %q, want one naming the secret %s", err, tt.arn)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q contains the secret's text", err)
			}
		})
	}
}

// testSnapshot is a region snapshot as the handler publishes it.
var testSnapshot = vote.TallySnapshot{
	ElectionID: "us-vt-pres-2024", RegionCode: "VT-ADD", RegionName: "Addison", RegisteredVoters: -1,
	Accepted: 3,
	Candidates: []vote.CandidateCount{
		{CandidateID: "harris", Name: "Kamala Harris", Party: "Democratic", Votes: 2},
		{CandidateID: "trump", Name: "Donald Trump", Party: "Republican", Votes: 1},
	},
	Rejected:  map[string]int64{"duplicate_voter": 1},
	AgeBands:  map[string]int64{"18-24": 1, "65+": 2},
	Timeline:  map[string]int64{"2024-11-05T13:00:00Z": 3},
	UpdatedAt: "2024-11-05T13:07:12Z",
}

// publishAndReadBack publishes testSnapshot with client to topic and reads
// it back with a second client whose options are readOpts.
func publishAndReadBack(t *testing.T, client *kgo.Client, topic string, readOpts []kgo.Opt) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if err := (tally.KafkaPublisher{Client: client, Topic: topic}).Publish(ctx, []vote.TallySnapshot{testSnapshot}); err != nil {
		t.Fatalf("Publish: %v", err)
	}

	reader, err := kgo.NewClient(append(readOpts, kgo.ConsumeTopics(vote.AggregatesTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatalf("create reader: %v", err)
	}
	defer reader.Close()
	for {
		fetches := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("no snapshot read back before the deadline")
		}
		if err := fetches.Err0(); err != nil {
			t.Fatalf("read back: %v", err)
		}
		records := fetches.Records()
		if len(records) == 0 {
			continue
		}
		if got, want := string(records[0].Key), vote.TallyKey(testSnapshot.ElectionID, testSnapshot.RegionCode); got != want {
			t.Errorf("key = %q, want %q", got, want)
		}
		var got vote.TallySnapshot
		if err := json.Unmarshal(records[0].Value, &got); err != nil {
			t.Fatalf("decode snapshot: %v", err)
		}
		if !reflect.DeepEqual(got, testSnapshot) {
			t.Errorf("snapshot read back = %+v, want %+v", got, testSnapshot)
		}
		return
	}
}

func TestPublishOverTLSAndScram(t *testing.T) {
	ca := kafkasectest.NewCA(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(ca.ServerTLS), kfake.SeedTopics(1, vote.AggregatesTopic),
		kfake.EnableSASL(), kfake.Superuser(kafkasec.SASLScramSHA512, "tally", "s3cret"))
	if err != nil {
		t.Fatalf("start kfake with TLS and SASL: %v", err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")

	readSecurity := kafkasec.Config{CAFile: ca.File, SASLMechanism: kafkasec.SASLScramSHA512, Username: "tally", Password: "s3cret"}
	readOpts, err := readSecurity.Opts()
	if err != nil {
		t.Fatal(err)
	}
	readOpts = append(readOpts, kgo.SeedBrokers(cluster.ListenAddrs()...))

	t.Run("password from a secret", func(t *testing.T) {
		fake := newFakeSecretsManager(t, testSecretARN, aws.String(`{"username":"tally","password":"s3cret"}`))
		env := map[string]string{
			envBrokers: brokers, envTLS: "true", envTLSCA: ca.File,
			envSASLMechanism: "SCRAM-SHA-512", envSASLSecretARN: testSecretARN,
		}
		loads := 0
		load := func(context.Context) (aws.Config, error) { loads++; return fake.awsConfig(t), nil }

		client, topic, err := newKafkaClient(context.Background(), envOf(env), load, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("newKafkaClient: %v", err)
		}
		defer client.Close()
		publishAndReadBack(t, client, topic, readOpts)

		if loads != 1 {
			t.Errorf("AWS configuration loaded %d times, want 1", loads)
		}
		fake.mu.Lock()
		defer fake.mu.Unlock()
		if !reflect.DeepEqual(fake.requestedIDs, []string{testSecretARN}) {
			t.Errorf("GetSecretValue SecretIds = %q, want [%s]", fake.requestedIDs, testSecretARN)
		}
		if len(fake.authorization) != 1 || !strings.Contains(fake.authorization[0], "Credential=AKIDTALLYTEST/") {
			t.Errorf("GetSecretValue Authorization = %q, want a signature with the function's access key", fake.authorization)
		}
	})

	t.Run("password from the environment", func(t *testing.T) {
		env := map[string]string{
			envBrokers: brokers, envTLS: "true", envTLSCA: ca.File,
			envSASLMechanism: "SCRAM-SHA-512", envSASLUsername: "tally", envSASLPassword: "s3cret",
		}
		load := func(context.Context) (aws.Config, error) {
			t.Error("AWS configuration loaded, but no setting needs it")
			return aws.Config{}, nil
		}
		client, topic, err := newKafkaClient(context.Background(), envOf(env), load, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("newKafkaClient: %v", err)
		}
		defer client.Close()
		publishAndReadBack(t, client, topic, readOpts)
	})

	t.Run("wrong password", func(t *testing.T) {
		env := map[string]string{
			envBrokers: brokers, envTLS: "true", envTLSCA: ca.File,
			envSASLMechanism: "SCRAM-SHA-512", envSASLUsername: "tally", envSASLPassword: "guess",
		}
		client, topic, err := newKafkaClient(context.Background(), envOf(env), nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("newKafkaClient: %v", err)
		}
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := (tally.KafkaPublisher{Client: client, Topic: topic}).Publish(ctx, []vote.TallySnapshot{testSnapshot}); err == nil {
			t.Error("Publish with a wrong password succeeded")
		}
	})
}

// TestPublishWithMSKIAM checks that AWS_MSK_IAM is selected and signs with
// the credentials of the AWS configuration. kfake has no AWS_MSK_IAM, so the
// test responds to the SASL handshake and authentication itself and accepts
// any signature.
//
// NOTE: whether MSK accepts the signature is not tested here; that needs a
// cluster with IAM access control.
func TestPublishWithMSKIAM(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	// franz-go takes the signing region from an MSK broker host name, and
	// from AWS_REGION for any other host, such as 127.0.0.1.
	t.Setenv("AWS_REGION", "eu-west-1")

	ca := kafkasectest.NewCA(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(ca.ServerTLS), kfake.SeedTopics(1, vote.AggregatesTopic))
	if err != nil {
		t.Fatalf("start kfake with TLS: %v", err)
	}
	defer cluster.Close()

	var (
		mu         sync.Mutex
		mechanisms []string
		payloads   [][]byte
	)
	cluster.ControlKey(kmsg.SASLHandshake.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		handshake := req.(*kmsg.SASLHandshakeRequest)
		mu.Lock()
		mechanisms = append(mechanisms, handshake.Mechanism)
		mu.Unlock()
		resp := handshake.ResponseKind().(*kmsg.SASLHandshakeResponse)
		resp.SupportedMechanisms = []string{kafkasec.SASLAWSMSKIAM}
		return resp, nil, true
	})
	cluster.ControlKey(kmsg.SASLAuthenticate.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		authenticate := req.(*kmsg.SASLAuthenticateRequest)
		mu.Lock()
		payloads = append(payloads, append([]byte(nil), authenticate.SASLAuthBytes...))
		mu.Unlock()
		resp := authenticate.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		// The client rejects an empty response, and MSK responds with JSON.
		resp.SASLAuthBytes = []byte(`{"version":"2020_10_22","request-id":"test"}`)
		return resp, nil, true
	})

	env := map[string]string{envBrokers: strings.Join(cluster.ListenAddrs(), ","), envTLS: "true", envTLSCA: ca.File, envSASLMechanism: "AWS_MSK_IAM"}
	load := func(context.Context) (aws.Config, error) {
		return aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTALLYTEST", "secret-key", "session-token")}, nil
	}
	client, topic, err := newKafkaClient(context.Background(), envOf(env), load, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("newKafkaClient: %v", err)
	}
	defer client.Close()

	readOpts, err := kafkasec.Config{CAFile: ca.File}.Opts()
	if err != nil {
		t.Fatal(err)
	}
	publishAndReadBack(t, client, topic, append(readOpts, kgo.SeedBrokers(cluster.ListenAddrs()...)))

	mu.Lock()
	defer mu.Unlock()
	if len(mechanisms) == 0 {
		t.Fatal("the client sent no SASL handshake")
	}
	for _, m := range mechanisms {
		if m != kafkasec.SASLAWSMSKIAM {
			t.Errorf("SASL handshake mechanism = %q, want %s", m, kafkasec.SASLAWSMSKIAM)
		}
	}
	if len(payloads) == 0 {
		t.Fatal("the client sent no SASL authentication")
	}
	var signed map[string]string
	if err := json.Unmarshal(payloads[0], &signed); err != nil {
		t.Fatalf("AWS_MSK_IAM payload %q is not a JSON object of strings: %v", payloads[0], err)
	}
	checks := []struct{ key, wantPrefix string }{
		{"action", "kafka-cluster:Connect"},
		{"host", "127.0.0.1"},
		{"x-amz-algorithm", "AWS4-HMAC-SHA256"},
		{"x-amz-credential", "AKIDTALLYTEST/"},
		{"x-amz-security-token", "session-token"},
		{"version", "2020_10_22"},
	}
	for _, c := range checks {
		if !strings.HasPrefix(signed[c.key], c.wantPrefix) {
			t.Errorf("payload %s = %q, want it to start with %q", c.key, signed[c.key], c.wantPrefix)
		}
	}
	if !strings.Contains(signed["x-amz-credential"], "/eu-west-1/kafka-cluster/aws4_request") {
		t.Errorf("payload x-amz-credential = %q, want the scope eu-west-1/kafka-cluster", signed["x-amz-credential"])
	}
	if signed["x-amz-signature"] == "" {
		t.Error("payload has no x-amz-signature")
	}
}
