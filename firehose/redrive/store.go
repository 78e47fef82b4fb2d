package redrive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// DirStore is a bucket in a lake directory, as the local Firehose writes it:
// the object KEY is the file Dir/KEY.
type DirStore struct {
	Dir string
}

// List returns the keys of the files under prefix, sorted. It skips the
// .tmp- files of writes in progress.
func (d DirStore) List(_ context.Context, prefix string) ([]string, error) {
	// The prefix may end inside a path segment ("…/dt="), so the walk
	// starts at its directory and filters on the full key.
	root := filepath.Join(d.Dir, filepath.FromSlash(path.Dir(prefix+"x")))
	var keys []string
	err := filepath.WalkDir(root, func(p string, entry fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return fs.SkipAll
			}
			return err
		}
		if entry.IsDir() || strings.HasPrefix(entry.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(d.Dir, p)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(keys)
	return keys, nil
}

// Read returns the content of the file of key.
func (d DirStore) Read(_ context.Context, key string) ([]byte, error) {
	return os.ReadFile(d.path(key))
}

// Move renames the file of from to the file of to, creating its directory.
func (d DirStore) Move(_ context.Context, from, to string) error {
	target := d.path(to)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	return os.Rename(d.path(from), target)
}

func (d DirStore) path(key string) string {
	return filepath.Join(d.Dir, filepath.FromSlash(key))
}

// S3API is the part of *s3.Client that S3Store calls.
type S3API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	CopyObject(ctx context.Context, in *s3.CopyObjectInput, optFns ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// S3Store is a bucket at an S3 endpoint. firehose.NewS3Client returns a
// client for a local S3-compatible server.
type S3Store struct {
	Client S3API
	Bucket string
}

// List returns the keys under prefix, sorted, over all result pages.
func (s S3Store) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	paginator := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.Bucket),
		Prefix: aws.String(prefix),
	})
	for paginator.HasMorePages() {
		page, err := paginator.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", s.Bucket, prefix, err)
		}
		for _, object := range page.Contents {
			keys = append(keys, aws.ToString(object.Key))
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// Read returns the content of the object key.
func (s S3Store) Read(ctx context.Context, key string) ([]byte, error) {
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", s.Bucket, key, err)
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// Move copies the object from to the key to, then deletes from. S3 has no
// rename, so a failure between the two leaves both objects. The next run
// then resends from.
func (s S3Store) Move(ctx context.Context, from, to string) error {
	_, err := s.Client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(s.Bucket),
		// CopySource is "bucket/key", URL-encoded.
		CopySource: aws.String((&url.URL{Path: s.Bucket + "/" + from}).EscapedPath()),
		Key:        aws.String(to),
	})
	if err != nil {
		return fmt.Errorf("copy s3://%s/%s to %s: %w", s.Bucket, from, to, err)
	}
	if _, err := s.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(from)}); err != nil {
		return fmt.Errorf("delete s3://%s/%s after copying it to %s: %w", s.Bucket, from, to, err)
	}
	return nil
}
