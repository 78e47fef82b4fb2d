// Package dbauth sets how the Lambda functions authenticate to PostgreSQL:
// with the credentials of their connection string, with a Secrets Manager
// secret read at cold start, or with an RDS IAM token per connection. The
// transform and tally functions share it.
package dbauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// dbAuth is the method the function uses to authenticate to PostgreSQL.
type dbAuth int

const (
	// authConnString uses the credentials of DATABASE_URL or the PG*
	// variables as they are.
	authConnString dbAuth = iota
	// authSecret reads the user and password, and optionally host, port and
	// database, from the Secrets Manager secret DB_SECRET_ARN at cold start.
	authSecret
	// authIAM signs a fresh RDS IAM authentication token as the password of
	// every new connection.
	authIAM
)

func (a dbAuth) String() string {
	return [...]string{"connection string", "Secrets Manager secret", "RDS IAM token"}[a]
}

// chooseDBAuth returns the authentication that the environment selects:
// DB_SECRET_ARN selects authSecret, DB_IAM_AUTH=true selects authIAM, and
// neither keeps authConnString. Both at once is an error.
func chooseDBAuth(getenv func(string) string) (dbAuth, error) {
	secretARN := getenv("DB_SECRET_ARN")
	iam := false
	if s := getenv("DB_IAM_AUTH"); s != "" {
		var err error
		if iam, err = strconv.ParseBool(s); err != nil {
			return 0, fmt.Errorf("DB_IAM_AUTH=%q is invalid: use true or false", s)
		}
	}
	switch {
	case secretARN != "" && iam:
		return 0, errors.New("DB_SECRET_ARN and DB_IAM_AUTH=true are both set: choose one way to authenticate to the database")
	case secretARN != "":
		return authSecret, nil
	case iam:
		return authIAM, nil
	}
	return authConnString, nil
}

// rdsSecret is the JSON of a Secrets Manager secret for an RDS database, as
// the "Credentials for Amazon RDS database" secret type and RDS-managed
// master user secrets store it. RDS-managed secrets hold only username and
// password; the other fields are optional here.
type rdsSecret struct {
	Username string      `json:"username"`
	Password string      `json:"password"`
	Host     string      `json:"host"`
	Port     json.Number `json:"port"`
	DBName   string      `json:"dbname"`
}

// parseRDSSecret decodes and checks a secret string. Its errors never
// contain the secret's text.
func parseRDSSecret(secretString string) (rdsSecret, error) {
	var s rdsSecret
	decoder := json.NewDecoder(strings.NewReader(secretString))
	decoder.UseNumber()
	if err := decoder.Decode(&s); err != nil {
		// The decoder's message can quote the secret, so it is left out.
		return s, errors.New("the secret string is not a JSON object with username and password")
	}
	if s.Username == "" || s.Password == "" {
		return s, errors.New(`the secret has no "username" or no "password"`)
	}
	if s.Port != "" {
		port, err := strconv.ParseUint(string(s.Port), 10, 16)
		if err != nil || port == 0 {
			return s, fmt.Errorf(`the secret's "port" %q is not a TCP port`, s.Port)
		}
	}
	return s, nil
}

// secretGetter is the Secrets Manager call the function makes, so that tests
// can pass a fake client.
type secretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// applySecret reads the secret arn and sets the user and password of
// config, and its host, port and database where the secret has them.
//
// NOTE: the secret is read once per cold start. After a rotation, new
// connections of a warm instance fail until Lambda replaces the instance.
func applySecret(ctx context.Context, client secretGetter, arn string, config *pgxpool.Config) error {
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return fmt.Errorf("get secret %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return fmt.Errorf("secret %s has no SecretString: store the credentials as JSON text", arn)
	}
	s, err := parseRDSSecret(*out.SecretString)
	if err != nil {
		return fmt.Errorf("secret %s: %w", arn, err)
	}

	cc := config.ConnConfig
	cc.User, cc.Password = s.Username, s.Password
	if s.Host != "" {
		cc.Host = s.Host
		// The fallbacks of the connection string point at its own hosts.
		cc.Fallbacks = nil
	}
	if s.Port != "" {
		port, _ := strconv.ParseUint(string(s.Port), 10, 16)
		cc.Port = uint16(port)
	}
	if s.DBName != "" {
		cc.Database = s.DBName
	}
	return nil
}

// tokenBuilder signs an RDS IAM authentication token; auth.BuildAuthToken
// in production and a fake in tests.
type tokenBuilder func(ctx context.Context, endpoint, region, dbUser string, creds aws.CredentialsProvider, optFns ...func(*auth.BuildAuthTokenOptions)) (string, error)

// useIAMAuth makes every new connection of config authenticate with a token
// from build, signed for the connection's host, port and user. A token is
// valid for 15 minutes and is checked only when a connection opens, so one
// token per connection is enough however long the connection lives.
func useIAMAuth(config *pgxpool.Config, region string, creds aws.CredentialsProvider, build tokenBuilder) error {
	if config.ConnConfig.User == "" {
		return errors.New("DB_IAM_AUTH=true needs a database user: set it in DATABASE_URL or PGUSER")
	}
	// RDS accepts IAM tokens only over TLS; sslmode=disable leaves TLSConfig nil.
	if config.ConnConfig.TLSConfig == nil {
		return errors.New("DB_IAM_AUTH=true needs TLS, which the connection string disables: set sslmode=require or verify-full")
	}
	if region == "" {
		return errors.New("DB_IAM_AUTH=true needs the database's AWS region: set AWS_REGION")
	}

	previous := config.BeforeConnect
	config.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
		if previous != nil {
			if err := previous(ctx, cc); err != nil {
				return err
			}
		}
		endpoint := net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
		token, err := build(ctx, endpoint, region, cc.User, creds)
		if err != nil {
			return fmt.Errorf("build RDS IAM token for %s at %s: %w", cc.User, endpoint, err)
		}
		cc.Password = token
		return nil
	}
	return nil
}

// Configure applies the authentication that chooseDBAuth selects to
// config. It loads the AWS configuration (the Lambda execution role's
// credentials and AWS_REGION) only when a secret or IAM token is needed.
func Configure(ctx context.Context, config *pgxpool.Config, getenv func(string) string, logger *slog.Logger) error {
	mode, err := chooseDBAuth(getenv)
	if err != nil {
		return err
	}
	logger.Info("database authentication", "method", mode.String(), "user", config.ConnConfig.User, "host", config.ConnConfig.Host)
	if mode == authConnString {
		return nil
	}

	awsConfig, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration for %s: %w", mode, err)
	}
	if mode == authSecret {
		return applySecret(ctx, secretsmanager.NewFromConfig(awsConfig), getenv("DB_SECRET_ARN"), config)
	}
	return useIAMAuth(config, awsConfig.Region, awsConfig.Credentials, auth.BuildAuthToken)
}
