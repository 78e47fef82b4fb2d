package firehose

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3PutObjectAPI is the part of *s3.Client that delivery uses.
type S3PutObjectAPI interface {
	PutObject(ctx context.Context, input *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// S3Endpoint configures NewS3Client for an S3-compatible endpoint.
type S3Endpoint struct {
	// URL is the endpoint, such as http://127.0.0.1:9000. Required: the
	// local Firehose never falls back to AWS's endpoints.
	URL string
	// Region signs the requests. Empty means LocalRegion.
	Region string
	// AccessKeyID and SecretAccessKey are static credentials. Empty means
	// "test" for both, which servers without authentication accept.
	AccessKeyID     string
	SecretAccessKey string
	// PathStyle addresses buckets as URL/bucket/key instead of
	// bucket.host/key. Local S3 servers usually need it.
	PathStyle bool
}

// NewS3Client returns an aws-sdk-go-v2 S3 client for endpoint with static
// credentials. It reads no shared configuration, environment credentials
// or instance metadata.
func NewS3Client(endpoint S3Endpoint) (*s3.Client, error) {
	if endpoint.URL == "" {
		return nil, fmt.Errorf("S3 endpoint URL is empty: pass one such as http://127.0.0.1:9000")
	}
	region := endpoint.Region
	if region == "" {
		region = LocalRegion
	}
	key, secret := endpoint.AccessKeyID, endpoint.SecretAccessKey
	if key == "" && secret == "" {
		key, secret = "test", "test"
	}
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		UsePathStyle: endpoint.PathStyle,
	}), nil
}

// writeObject writes the object key of the stream's bucket: to S3 when
// Options.S3 is set, else atomically under LakeDir.
func (st *streamState) writeObject(ctx context.Context, key string, write func(w writer) error) error {
	client := st.srv.opts.S3
	if client == nil {
		return writeFile(st.objectPath(key), write)
	}

	// PutObject needs the length up front, and objects are at most the
	// delivery buffer size, so the object is built in memory.
	var body bytes.Buffer
	if err := write(&body); err != nil {
		return err
	}
	_, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(st.cfg.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body.Bytes()),
		ContentLength: aws.Int64(int64(body.Len())),
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", st.cfg.Bucket, key, err)
	}
	return nil
}
