package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/kafkasec"
)

// Environment variables of the Kafka client that publishes snapshots. They
// configure only this client; the event source mapping that delivers
// votes_topic authenticates on its own.
const (
	envBrokers       = "AGGREGATES_BROKERS"
	envTopic         = "AGGREGATES_TOPIC"
	envTLS           = "KAFKA_TLS"
	envTLSCA         = "KAFKA_TLS_CA"
	envTLSCert       = "KAFKA_TLS_CERT"
	envTLSKey        = "KAFKA_TLS_KEY"
	envTLSServerName = "KAFKA_TLS_SERVER_NAME"
	envSASLMechanism = "KAFKA_SASL_MECHANISM"
	envSASLUsername  = "KAFKA_SASL_USERNAME"
	envSASLPassword  = "KAFKA_SASL_PASSWORD"
	envSASLSecretARN = "KAFKA_SASL_SECRET_ARN"
)

// kafkaSettings is the configuration of the snapshot producer as the
// environment gives it. The parts that need AWS, the SCRAM credentials in
// a secret and the credentials that sign AWS_MSK_IAM, are filled in by
// resolve.
type kafkaSettings struct {
	brokers []string
	// topic is empty for vote.AggregatesTopic.
	topic string

	// security has no Password while secretARN is set, and no
	// AWSCredentials before resolve.
	security kafkasec.Config
	// secretARN is the Secrets Manager secret with the SCRAM user name and
	// password.
	secretARN string
}

// parseKafkaSettings reads and checks the snapshot producer's variables.
// Each error names the variable, its value where that is not a secret, and
// the fix.
func parseKafkaSettings(getenv func(string) string) (kafkaSettings, error) {
	var s kafkaSettings

	brokers := getenv(envBrokers)
	if brokers == "" {
		return s, fmt.Errorf("%s is not set: set it to the bootstrap brokers of aggregated_votes_topic's cluster, comma-separated host:port", envBrokers)
	}
	for _, b := range strings.Split(brokers, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			return s, fmt.Errorf("%s=%q: %q is not host:port: give each broker with its port, such as b-1.votes.abc123.c2.kafka.eu-west-1.amazonaws.com:9098", envBrokers, brokers, b)
		}
		s.brokers = append(s.brokers, b)
	}
	if len(s.brokers) == 0 {
		return s, fmt.Errorf("%s=%q names no broker: give comma-separated host:port", envBrokers, brokers)
	}
	s.topic = getenv(envTopic)

	if err := s.parseTLS(getenv); err != nil {
		return s, err
	}
	if err := s.parseSASL(getenv); err != nil {
		return s, err
	}
	return s, nil
}

func (s *kafkaSettings) parseTLS(getenv func(string) string) error {
	sec := &s.security
	sec.CAFile = getenv(envTLSCA)
	sec.CertFile = getenv(envTLSCert)
	sec.KeyFile = getenv(envTLSKey)
	sec.ServerName = getenv(envTLSServerName)

	if v := getenv(envTLS); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q is invalid: use true or false", envTLS, v)
		}
		sec.TLS = on
		if !on {
			for _, name := range []string{envTLSCA, envTLSCert, envTLSKey, envTLSServerName} {
				if getenv(name) != "" {
					return fmt.Errorf("%s is set, but %s=%q turns TLS off: set %s=true, or unset %s", name, envTLS, v, envTLS, name)
				}
			}
		}
	}

	if (sec.CertFile == "") != (sec.KeyFile == "") {
		return fmt.Errorf("%s=%q and %s=%q: give both the client certificate and its key for mutual TLS, or neither", envTLSCert, sec.CertFile, envTLSKey, sec.KeyFile)
	}
	for _, f := range []struct{ name, path string }{{envTLSCA, sec.CAFile}, {envTLSCert, sec.CertFile}, {envTLSKey, sec.KeyFile}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s=%q: %w: ship the PEM file in the function package or a layer (under /var/task or /opt) and give its path", f.name, f.path, err)
		}
	}
	return nil
}

func (s *kafkaSettings) parseSASL(getenv func(string) string) error {
	sec := &s.security
	mechanism := strings.ToUpper(strings.TrimSpace(getenv(envSASLMechanism)))
	sec.SASLMechanism = mechanism
	sec.Username = getenv(envSASLUsername)
	sec.Password = getenv(envSASLPassword)
	s.secretARN = getenv(envSASLSecretARN)

	// credentialVars lists the SCRAM variables that are set; the password's
	// value is never quoted.
	var credentialVars []string
	for _, name := range []string{envSASLSecretARN, envSASLUsername, envSASLPassword} {
		if getenv(name) != "" {
			credentialVars = append(credentialVars, name)
		}
	}

	switch mechanism {
	case kafkasec.SASLNone:
		if len(credentialVars) > 0 {
			return fmt.Errorf("%s, but %s is empty: set %s=%s to sign in with SCRAM, or unset %s",
				areSet(credentialVars), envSASLMechanism, envSASLMechanism, kafkasec.SASLScramSHA512, strings.Join(credentialVars, " and "))
		}

	case kafkasec.SASLScramSHA256, kafkasec.SASLScramSHA512:
		switch {
		case s.secretARN != "" && (sec.Username != "" || sec.Password != ""):
			return fmt.Errorf("%s: the secret contains the user name and password, so unset %s and %s",
				areSet(credentialVars), envSASLUsername, envSASLPassword)
		case s.secretARN == "" && (sec.Username == "" || sec.Password == ""):
			return fmt.Errorf("%s=%s needs credentials: set %s to the secret that MSK uses for this user (JSON with username and password), or set both %s and %s",
				envSASLMechanism, mechanism, envSASLSecretARN, envSASLUsername, envSASLPassword)
		}

	case kafkasec.SASLAWSMSKIAM:
		if len(credentialVars) > 0 {
			return fmt.Errorf("%s, but %s=%s signs in with the function's IAM role: unset %s",
				areSet(credentialVars), envSASLMechanism, mechanism, strings.Join(credentialVars, " and "))
		}
		if !sec.TLSEnabled() {
			return fmt.Errorf("%s=%s needs %s=true: MSK serves IAM authentication only on its TLS listener (port 9098)", envSASLMechanism, mechanism, envTLS)
		}

	default:
		return fmt.Errorf("%s=%q is not supported: use %s (the only SCRAM mechanism that MSK offers), %s or %s, or leave it empty for no authentication",
			envSASLMechanism, getenv(envSASLMechanism), kafkasec.SASLScramSHA512, kafkasec.SASLScramSHA256, kafkasec.SASLAWSMSKIAM)
	}
	return nil
}

// areSet returns "A is set" or "A and B are set" for the variable names.
func areSet(names []string) string {
	if len(names) == 1 {
		return names[0] + " is set"
	}
	return strings.Join(names, " and ") + " are set"
}

// needsAWS reports whether resolve needs an AWS configuration.
func (s kafkaSettings) needsAWS() bool {
	return s.secretARN != "" || s.security.SASLMechanism == kafkasec.SASLAWSMSKIAM
}

// resolve returns the complete security configuration: with the SCRAM user
// name and password read from the secret, and with awsConfig's credentials
// for AWS_MSK_IAM. awsConfig is used only when needsAWS reports true.
//
// NOTE: the secret is read once per cold start. After the SCRAM password is
// rotated, new connections of a warm instance fail until Lambda replaces
// the instance.
func (s kafkaSettings) resolve(ctx context.Context, awsConfig aws.Config) (kafkasec.Config, error) {
	sec := s.security
	if s.secretARN != "" {
		username, password, err := readSCRAMSecret(ctx, secretsmanager.NewFromConfig(awsConfig), s.secretARN)
		if err != nil {
			return sec, fmt.Errorf("%s: %w", envSASLSecretARN, err)
		}
		sec.Username, sec.Password = username, password
	}
	if sec.SASLMechanism == kafkasec.SASLAWSMSKIAM {
		if awsConfig.Credentials == nil {
			return sec, fmt.Errorf("%s=%s: the AWS configuration has no credentials: run the function with an execution role", envSASLMechanism, sec.SASLMechanism)
		}
		sec.AWSCredentials = awsConfig.Credentials
	}
	return sec, nil
}

// scramSecret is the JSON of a Secrets Manager secret for MSK SASL/SCRAM,
// in the format that MSK requires of the secrets associated with a cluster.
type scramSecret struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// readSCRAMSecret returns the user name and password in the secret arn. Its
// errors never contain the secret's text.
func readSCRAMSecret(ctx context.Context, client *secretsmanager.Client, arn string) (username, password string, err error) {
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", "", fmt.Errorf("get secret %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return "", "", fmt.Errorf("secret %s has no SecretString: store the SCRAM credentials as JSON text", arn)
	}
	var secret scramSecret
	if err := json.Unmarshal([]byte(*out.SecretString), &secret); err != nil {
		// The decoder's message can quote the secret, so it is left out.
		return "", "", fmt.Errorf(`secret %s is not a JSON object such as {"username": "...", "password": "..."}`, arn)
	}
	if secret.Username == "" || secret.Password == "" {
		return "", "", fmt.Errorf(`secret %s has no "username" or no "password"`, arn)
	}
	return secret.Username, secret.Password, nil
}

// newKafkaClient returns the client that publishes snapshots, and its topic
// (empty for vote.AggregatesTopic), configured from getenv. It calls
// loadAWSConfig only when a SCRAM secret is to be read or AWS_MSK_IAM is to
// be signed. The client connects lazily, on the first publish.
func newKafkaClient(ctx context.Context, getenv func(string) string, loadAWSConfig func(context.Context) (aws.Config, error), logger *slog.Logger) (*kgo.Client, string, error) {
	settings, err := parseKafkaSettings(getenv)
	if err != nil {
		return nil, "", err
	}

	var awsConfig aws.Config
	if settings.needsAWS() {
		if awsConfig, err = loadAWSConfig(ctx); err != nil {
			return nil, "", fmt.Errorf("load AWS configuration for the Kafka client: %w", err)
		}
	}
	security, err := settings.resolve(ctx, awsConfig)
	if err != nil {
		return nil, "", err
	}
	opts, err := security.Opts()
	if err != nil {
		return nil, "", err
	}

	logger.Info("Kafka client for snapshots configured", "brokers", settings.brokers, "topic", settings.topic,
		"tls", security.TLSEnabled(), "ca_file", security.CAFile, "sasl_mechanism", security.SASLMechanism,
		"sasl_username", security.Username, "sasl_secret", settings.secretARN)
	if strings.HasPrefix(security.SASLMechanism, "SCRAM") && !security.TLSEnabled() {
		logger.Warn("SCRAM without TLS: the snapshots travel in plain text, and MSK's SCRAM listener (port 9096) accepts only TLS", "variable", envTLS)
	}

	client, err := kgo.NewClient(append(opts, kgo.SeedBrokers(settings.brokers...))...)
	if err != nil {
		return nil, "", fmt.Errorf("create Kafka client for %s=%q: %w", envBrokers, strings.Join(settings.brokers, ","), err)
	}
	return client, settings.topic, nil
}
