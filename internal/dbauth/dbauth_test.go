package dbauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream/functions/transform"
)

func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestChooseDBAuth(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    dbAuth
		wantErr string
	}{
		{"nothing set", nil, authConnString, ""},
		{"secret", map[string]string{"DB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:db"}, authSecret, ""},
		{"iam", map[string]string{"DB_IAM_AUTH": "true"}, authIAM, ""},
		{"iam false", map[string]string{"DB_IAM_AUTH": "false"}, authConnString, ""},
		{"iam invalid", map[string]string{"DB_IAM_AUTH": "yes please"}, 0, "DB_IAM_AUTH"},
		{"both", map[string]string{"DB_SECRET_ARN": "arn", "DB_IAM_AUTH": "1"}, 0, "both set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chooseDBAuth(envOf(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("chooseDBAuth = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseRDSSecret(t *testing.T) {
	const password = "s3cr3t-p@ss"
	tests := []struct {
		name    string
		secret  string
		want    rdsSecret
		wantErr string
	}{
		{"rds managed", `{"username":"votes","password":"` + password + `"}`,
			rdsSecret{Username: "votes", Password: password}, ""},
		{"full with numeric port", `{"engine":"postgres","username":"votes","password":"` + password + `","host":"db.example","port":5432,"dbname":"votestream","dbInstanceIdentifier":"db"}`,
			rdsSecret{Username: "votes", Password: password, Host: "db.example", Port: "5432", DBName: "votestream"}, ""},
		{"no password", `{"username":"votes"}`, rdsSecret{}, "no \"username\" or no \"password\""},
		{"port out of range", `{"username":"votes","password":"` + password + `","port":70000}`, rdsSecret{}, "not a TCP port"},
		{"not json", `password=` + password, rdsSecret{}, "not a JSON object"},
		{"truncated json", `{"username":"votes","password":"` + password, rdsSecret{}, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRDSSecret(tt.secret)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), password) {
					t.Errorf("error %q contains the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("parseRDSSecret = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// fakeSecrets returns one secret string for one ARN and records the calls.
type fakeSecrets struct {
	arn, secret string
	calls       int
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls++
	if aws.ToString(in.SecretId) != f.arn {
		return nil, errors.New("ResourceNotFoundException: secret not found")
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.secret)}, nil
}

func TestApplySecretOverridesConnString(t *testing.T) {
	config, err := transform.PoolConfig("postgres://urluser:urlpass@urlhost:5433/urldb?sslmode=require", 2)
	if err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:db"
	fake := &fakeSecrets{arn: arn, secret: `{"username":"votes","password":"pw","host":"db.internal","port":"5432","dbname":"votestream"}`}

	if err := applySecret(context.Background(), fake, arn, config); err != nil {
		t.Fatal(err)
	}
	cc := config.ConnConfig
	if fake.calls != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1", fake.calls)
	}
	if cc.User != "votes" || cc.Password != "pw" {
		t.Errorf("user, password = %q, %q; want the secret's", cc.User, cc.Password)
	}
	if cc.Host != "db.internal" || cc.Port != 5432 || cc.Database != "votestream" {
		t.Errorf("host, port, database = %s, %d, %s; want db.internal, 5432, votestream", cc.Host, cc.Port, cc.Database)
	}
	if config.ConnConfig.DefaultQueryExecMode != pgx.QueryExecModeExec {
		t.Errorf("query exec mode = %v, want QueryExecModeExec kept", cc.DefaultQueryExecMode)
	}
}

func TestApplySecretKeepsURLHost(t *testing.T) {
	config, err := transform.PoolConfig("postgres://urluser@urlhost:5433/urldb", 2)
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeSecrets{arn: "arn", secret: `{"username":"votes","password":"pw"}`}
	if err := applySecret(context.Background(), fake, "arn", config); err != nil {
		t.Fatal(err)
	}
	cc := config.ConnConfig
	if cc.Host != "urlhost" || cc.Port != 5433 || cc.Database != "urldb" {
		t.Errorf("host, port, database = %s, %d, %s; want urlhost, 5433, urldb from the URL", cc.Host, cc.Port, cc.Database)
	}
	if cc.User != "votes" {
		t.Errorf("user = %q, want the secret's votes", cc.User)
	}
}

func TestApplySecretErrors(t *testing.T) {
	tests := []struct {
		name    string
		fake    *fakeSecrets
		wantErr string
	}{
		{"unknown arn", &fakeSecrets{arn: "other"}, "get secret arn"},
		{"no password", &fakeSecrets{arn: "arn", secret: `{"username":"votes"}`}, "no \"username\" or no \"password\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config, err := transform.PoolConfig("postgres://u@h/d", 2)
			if err != nil {
				t.Fatal(err)
			}
			err = applySecret(context.Background(), tt.fake, "arn", config)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestIAMAuthTokenPerConnection(t *testing.T) {
	config, err := transform.PoolConfig("postgres://lambda_transform@db.internal:5432/votestream?sslmode=require", 2)
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
	var endpoints, users []string
	build := func(_ context.Context, endpoint, region, user string, got aws.CredentialsProvider, _ ...func(*auth.BuildAuthTokenOptions)) (string, error) {
		if region != "eu-west-1" {
			t.Errorf("region = %q, want eu-west-1", region)
		}
		if got == nil {
			t.Error("token builder got no credentials")
		}
		endpoints, users = append(endpoints, endpoint), append(users, user)
		return fmt.Sprintf("token-%d", len(endpoints)), nil
	}
	if err := useIAMAuth(config, "eu-west-1", creds, build); err != nil {
		t.Fatal(err)
	}

	// Each call stands for one new connection of the pool.
	for i, want := range []string{"token-1", "token-2"} {
		cc := config.ConnConfig.Copy()
		if err := config.BeforeConnect(context.Background(), cc); err != nil {
			t.Fatal(err)
		}
		if cc.Password != want {
			t.Errorf("connection %d password = %q, want %q", i+1, cc.Password, want)
		}
	}
	if len(endpoints) != 2 || endpoints[0] != "db.internal:5432" || users[0] != "lambda_transform" {
		t.Errorf("token requests = %v for users %v, want two for db.internal:5432 as lambda_transform", endpoints, users)
	}
}

func TestIAMAuthRejectsConfig(t *testing.T) {
	tests := []struct {
		name       string
		connString string
		region     string
		wantErr    string
	}{
		{"no tls", "postgres://u@db:5432/d?sslmode=disable", "eu-west-1", "needs TLS"},
		{"no region", "postgres://u@db:5432/d?sslmode=require", "", "AWS_REGION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config, err := pgxpool.ParseConfig(tt.connString)
			if err != nil {
				t.Fatal(err)
			}
			build := func(context.Context, string, string, string, aws.CredentialsProvider, ...func(*auth.BuildAuthTokenOptions)) (string, error) {
				t.Fatal("token builder called during configuration")
				return "", nil
			}
			err = useIAMAuth(config, tt.region, credentials.NewStaticCredentialsProvider("a", "b", ""), build)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestIAMAuthRealTokenSignsOffline(t *testing.T) {
	// auth.BuildAuthToken presigns locally with the given static
	// credentials; it sends no request.
	config, err := transform.PoolConfig("postgres://lambda_transform@db.internal:5432/votestream?sslmode=require", 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := useIAMAuth(config, "eu-west-1", credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""), auth.BuildAuthToken); err != nil {
		t.Fatal(err)
	}
	cc := config.ConnConfig.Copy()
	if err := config.BeforeConnect(context.Background(), cc); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"db.internal:5432?Action=connect", "DBUser=lambda_transform", "X-Amz-Credential=AKIDEXAMPLE"} {
		if !strings.Contains(cc.Password, part) {
			t.Errorf("token %q does not contain %q", cc.Password, part)
		}
	}
}
