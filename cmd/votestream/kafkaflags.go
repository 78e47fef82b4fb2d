package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/kafkasec"
)

// kafkaSecurityFlags are the flags that set how a command's Kafka client
// encrypts and authenticates its connections, shared by bridge and simulate.
type kafkaSecurityFlags struct {
	config       kafkasec.Config
	tls          *bool
	passwordFile *string
	region       *string
}

// addKafkaSecurityFlags defines the Kafka security flags on fs. region is the
// flag value that names the AWS region of AWS_MSK_IAM signing.
func addKafkaSecurityFlags(fs *flag.FlagSet, envs *envFlags, region *string) *kafkaSecurityFlags {
	k := &kafkaSecurityFlags{region: region}
	k.tls = envs.Bool("kafka-tls", "VOTESTREAM_KAFKA_TLS", false, "connect to Kafka with TLS (MSK: port 9094 for TLS, 9096 for SCRAM, 9098 for IAM); --kafka-tls-ca, --kafka-tls-cert and --kafka-tls-server-name turn it on as well")
	fs.StringVar(&k.config.CAFile, "kafka-tls-ca", envOr("VOTESTREAM_KAFKA_TLS_CA", ""), "PEM file of the CAs of the brokers' certificates; empty uses the system roots, which MSK's certificates chain to [VOTESTREAM_KAFKA_TLS_CA]")
	fs.StringVar(&k.config.CertFile, "kafka-tls-cert", envOr("VOTESTREAM_KAFKA_TLS_CERT", ""), "PEM client certificate for mutual TLS [VOTESTREAM_KAFKA_TLS_CERT]")
	fs.StringVar(&k.config.KeyFile, "kafka-tls-key", envOr("VOTESTREAM_KAFKA_TLS_KEY", ""), "PEM key of --kafka-tls-cert [VOTESTREAM_KAFKA_TLS_KEY]")
	fs.StringVar(&k.config.ServerName, "kafka-tls-server-name", envOr("VOTESTREAM_KAFKA_TLS_SERVER_NAME", ""), "host name to verify in the brokers' certificates; empty uses each broker's host [VOTESTREAM_KAFKA_TLS_SERVER_NAME]")
	fs.StringVar(&k.config.SASLMechanism, "kafka-sasl-mechanism", envOr("VOTESTREAM_KAFKA_SASL_MECHANISM", ""), "SASL mechanism: SCRAM-SHA-512 (the one MSK supports), SCRAM-SHA-256 or AWS_MSK_IAM, which signs with the AWS SDK's default credential chain (environment, shared config, instance role); empty for none [VOTESTREAM_KAFKA_SASL_MECHANISM]")
	fs.StringVar(&k.config.Username, "kafka-sasl-username", envOr("VOTESTREAM_KAFKA_SASL_USERNAME", ""), "SCRAM user name [VOTESTREAM_KAFKA_SASL_USERNAME]")
	k.passwordFile = fs.String("kafka-sasl-password-file", envOr("VOTESTREAM_KAFKA_SASL_PASSWORD_FILE", ""), "file that contains the SCRAM password; the environment variable VOTESTREAM_KAFKA_SASL_PASSWORD is the other way to give it, and no flag takes the password itself [VOTESTREAM_KAFKA_SASL_PASSWORD_FILE]")
	return k
}

// opts returns the franz-go options of the parsed flags. AWS_MSK_IAM signs
// with credentials, or, when that is nil, with the AWS SDK's default chain
// for the region flag, which opts loads only then.
func (k *kafkaSecurityFlags) opts(ctx context.Context, credentials aws.CredentialsProvider) ([]kgo.Opt, error) {
	k.config.TLS = *k.tls
	k.config.Password = os.Getenv("VOTESTREAM_KAFKA_SASL_PASSWORD")
	if *k.passwordFile != "" {
		data, err := os.ReadFile(*k.passwordFile)
		if err != nil {
			return nil, setupError{fmt.Errorf("read the SCRAM password: %w", err)}
		}
		k.config.Password = strings.TrimRight(string(data), "\r\n")
	}
	if k.config.SASLMechanism == "" && (k.config.Username != "" || k.config.Password != "") {
		return nil, usagef("--kafka-sasl-username or a SCRAM password is set, but --kafka-sasl-mechanism is empty: set it to SCRAM-SHA-512 or SCRAM-SHA-256, or remove the user name and password")
	}
	isSCRAM := strings.EqualFold(k.config.SASLMechanism, kafkasec.SASLScramSHA256) || strings.EqualFold(k.config.SASLMechanism, kafkasec.SASLScramSHA512)
	if isSCRAM && k.config.Username == "" {
		return nil, usagef("--kafka-sasl-mechanism %s needs --kafka-sasl-username", k.config.SASLMechanism)
	}
	if isSCRAM && k.config.Password == "" {
		return nil, usagef("--kafka-sasl-mechanism %s needs a password: set VOTESTREAM_KAFKA_SASL_PASSWORD or --kafka-sasl-password-file", k.config.SASLMechanism)
	}
	if strings.EqualFold(k.config.SASLMechanism, kafkasec.SASLAWSMSKIAM) {
		if credentials == nil {
			awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(*k.region))
			if err != nil {
				return nil, setupError{fmt.Errorf("load AWS configuration for AWS_MSK_IAM: %w", err)}
			}
			credentials = awsCfg.Credentials
		}
		k.config.AWSCredentials = credentials
	}
	opts, err := k.config.Opts()
	if err != nil {
		return nil, usagef("%v", err)
	}
	return opts, nil
}
