// Package kafkasec turns the TLS and SASL settings of a Kafka connection into
// franz-go client options. The bridge, simulate and the tally function share
// it, so all connect to Amazon MSK the same way: TLS with the system roots or
// a CA file, optionally a client certificate, and SASL with SCRAM-SHA-256,
// SCRAM-SHA-512 or AWS_MSK_IAM.
package kafkasec

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

// SASL mechanisms that Config supports, as Kafka names them.
const (
	SASLNone        = ""
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
	// SASLAWSMSKIAM signs in to Amazon MSK with IAM credentials. MSK serves
	// it on its TLS listener (port 9098), so it needs TLS as well.
	SASLAWSMSKIAM = "AWS_MSK_IAM"
)

// Config configures encryption and authentication of the Kafka
// connections. The zero value connects in plain text without SASL, as the
// local broker expects.
type Config struct {
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
	// SASLAWSMSKIAM, in any letter case.
	SASLMechanism string
	// Username and Password are the SCRAM credentials.
	Username string
	Password string
	// AWSCredentials signs AWS_MSK_IAM authentications. The client asks it
	// for credentials at every new connection, so rotated role credentials
	// are picked up. Required for SASLAWSMSKIAM.
	AWSCredentials awssdk.CredentialsProvider
}

// Opts returns the franz-go client options for c, to append to the
// client's other options, or an error that names the invalid setting.
func (c Config) Opts() ([]kgo.Opt, error) {
	var opts []kgo.Opt

	useTLS := c.TLSEnabled()
	if useTLS {
		tlsCfg, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}

	mechanism, err := c.saslMechanism()
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

// TLSEnabled reports whether the connections use TLS: TLS is set, or a
// setting that only TLS uses is.
func (c Config) TLSEnabled() bool {
	return c.TLS || c.CAFile != "" || c.CertFile != "" || c.ServerName != ""
}

func (c Config) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka security: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka security: CA file %s contains no PEM certificate: give a file with one or more CERTIFICATE blocks", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case c.CertFile != "" && c.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka security: load client certificate %s and key %s: %w", c.CertFile, c.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case c.CertFile != "" || c.KeyFile != "":
		return nil, errors.New("kafka security: give both the client certificate and its key, or neither")
	}
	return cfg, nil
}

func (c Config) saslMechanism() (sasl.Mechanism, error) {
	switch strings.ToUpper(c.SASLMechanism) {
	case SASLNone:
		return nil, nil
	case SASLScramSHA256, SASLScramSHA512:
		switch {
		case c.Username == "" && c.Password == "":
			return nil, fmt.Errorf("kafka security: the user name and the password for %s are missing", c.SASLMechanism)
		case c.Username == "":
			return nil, fmt.Errorf("kafka security: the user name for %s is missing", c.SASLMechanism)
		case c.Password == "":
			return nil, fmt.Errorf("kafka security: the password for %s is missing", c.SASLMechanism)
		}
		auth := scram.Auth{User: c.Username, Pass: c.Password}
		if strings.EqualFold(c.SASLMechanism, SASLScramSHA256) {
			return auth.AsSha256Mechanism(), nil
		}
		return auth.AsSha512Mechanism(), nil
	case SASLAWSMSKIAM:
		if c.AWSCredentials == nil {
			return nil, errors.New("kafka security: AWS_MSK_IAM needs AWS credentials")
		}
		provider := c.AWSCredentials
		return saslaws.ManagedStreamingIAM(func(ctx context.Context) (saslaws.Auth, error) {
			creds, err := provider.Retrieve(ctx)
			if err != nil {
				return saslaws.Auth{}, fmt.Errorf("retrieve AWS credentials for AWS_MSK_IAM: %w", err)
			}
			return saslaws.Auth{AccessKey: creds.AccessKeyID, SecretKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}, nil
		}), nil
	default:
		return nil, fmt.Errorf("kafka security: SASL mechanism %q is not supported: use %s, %s or %s", c.SASLMechanism, SASLScramSHA256, SASLScramSHA512, SASLAWSMSKIAM)
	}
}
