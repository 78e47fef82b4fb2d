package bridge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	saslaws "github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanisms that KafkaSecurity supports, as Kafka names them.
const (
	SASLNone        = ""
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
	// SASLAWSMSKIAM signs in to Amazon MSK with IAM credentials. MSK serves
	// it on its TLS listener (port 9098), so it needs TLS as well.
	SASLAWSMSKIAM = "AWS_MSK_IAM"
)

// KafkaSecurity configures encryption and authentication of the Kafka
// connections. The zero value connects in plain text without SASL, as the
// local broker expects.
type KafkaSecurity struct {
	// TLS turns on TLS. It is implied by CAFile, CertFile and ServerName.
	TLS bool
	// CAFile is a PEM bundle of the CAs that sign the brokers' certificates;
	// empty uses the system roots, which include Amazon's for MSK.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and key for mutual
	// TLS; both or neither.
	CertFile string
	KeyFile  string
	// ServerName overrides the host name checked against the brokers'
	// certificates; empty uses the host of each broker address.
	ServerName string

	// SASLMechanism is SASLNone, SASLScramSHA256, SASLScramSHA512 or
	// SASLAWSMSKIAM.
	SASLMechanism string
	// Username and Password are the SCRAM credentials.
	Username string
	Password string
	// AWSCredentials signs AWS_MSK_IAM authentications; the bridge asks it
	// for credentials at every new connection, so rotated role credentials
	// are picked up. Required for SASLAWSMSKIAM.
	AWSCredentials awssdk.CredentialsProvider
}

// Opts returns the franz-go client options for s, to append to
// Config.KafkaOpts, or an error that names the invalid setting.
func (s KafkaSecurity) Opts() ([]kgo.Opt, error) {
	var opts []kgo.Opt

	useTLS := s.TLS || s.CAFile != "" || s.CertFile != "" || s.ServerName != ""
	if useTLS {
		tlsCfg, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}

	mechanism, err := s.saslMechanism()
	if err != nil {
		return nil, err
	}
	if mechanism != nil {
		if mechanism.Name() == SASLAWSMSKIAM && !useTLS {
			return nil, errors.New("kafka security: AWS_MSK_IAM needs TLS: MSK serves IAM authentication only on its TLS listener (port 9098)")
		}
		opts = append(opts, kgo.SASL(mechanism))
	}
	return opts, nil
}

func (s KafkaSecurity) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.ServerName}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka security: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka security: CA file %s contains no PEM certificate: give a file with one or more CERTIFICATE blocks", s.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case s.CertFile != "" && s.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka security: load client certificate %s and key %s: %w", s.CertFile, s.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case s.CertFile != "" || s.KeyFile != "":
		return nil, errors.New("kafka security: give both the client certificate and its key, or neither")
	}
	return cfg, nil
}

func (s KafkaSecurity) saslMechanism() (sasl.Mechanism, error) {
	switch strings.ToUpper(s.SASLMechanism) {
	case SASLNone:
		return nil, nil
	case SASLScramSHA256, SASLScramSHA512:
		if s.Username == "" || s.Password == "" {
			return nil, fmt.Errorf("kafka security: %s needs a user name and a password", s.SASLMechanism)
		}
		auth := scram.Auth{User: s.Username, Pass: s.Password}
		if strings.EqualFold(s.SASLMechanism, SASLScramSHA256) {
			return auth.AsSha256Mechanism(), nil
		}
		return auth.AsSha512Mechanism(), nil
	case SASLAWSMSKIAM:
		if s.AWSCredentials == nil {
			return nil, errors.New("kafka security: AWS_MSK_IAM needs AWS credentials")
		}
		provider := s.AWSCredentials
		return saslaws.ManagedStreamingIAM(func(ctx context.Context) (saslaws.Auth, error) {
			creds, err := provider.Retrieve(ctx)
			if err != nil {
				return saslaws.Auth{}, fmt.Errorf("retrieve AWS credentials for AWS_MSK_IAM: %w", err)
			}
			return saslaws.Auth{AccessKey: creds.AccessKeyID, SecretKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}, nil
		}), nil
	default:
		return nil, fmt.Errorf("kafka security: SASL mechanism %q is not supported: use %s, %s or %s", s.SASLMechanism, SASLScramSHA256, SASLScramSHA512, SASLAWSMSKIAM)
	}
}
