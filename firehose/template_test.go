package firehose

import (
	"strings"
	"testing"
	"time"

	"github.com/votestream/votestream/glue"
)

const templatePath = "../sam-template.yaml"

func loadVotesStream(t testing.TB) Stream {
	t.Helper()
	tmpl, err := LoadTemplate(templatePath)
	if err != nil {
		t.Fatalf("LoadTemplate: %v", err)
	}
	s, ok := tmpl.Stream("VotesDeliveryStream")
	if !ok {
		t.Fatalf("template has no stream VotesDeliveryStream; streams: %+v", tmpl.Streams)
	}
	return s
}

func TestLoadTemplateVotesStream(t *testing.T) {
	s := loadVotesStream(t)

	checks := []struct {
		name      string
		got, want any
	}{
		{"Name", s.Name, "votestream-votes"},
		{"Bucket", s.Bucket, "votestream-lake-000000000000-us-east-1"},
		{"Prefix", s.Prefix, "votes/election_id=!{partitionKeyFromLambda:election_id}/dt=!{partitionKeyFromLambda:dt}/hour=!{partitionKeyFromLambda:hour}/"},
		{"ErrorOutputPrefix", s.ErrorOutputPrefix, "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"},
		{"BufferSize", s.BufferSize, int64(64 << 20)},
		{"BufferInterval", s.BufferInterval, 60 * time.Second},
		{"DynamicPartitioning", s.DynamicPartitioning, true},
		{"Processor != nil", s.Processor != nil, true},
		{"Conversion != nil", s.Conversion != nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if t.Failed() {
		return
	}

	p := s.Processor
	if p.FunctionLogicalID != "TransformFunction" {
		t.Errorf("Processor.FunctionLogicalID = %q, want TransformFunction", p.FunctionLogicalID)
	}
	if p.FunctionARN != "arn:aws:lambda:us-east-1:000000000000:function:votestream-transform" {
		t.Errorf("Processor.FunctionARN = %q", p.FunctionARN)
	}
	if p.BufferSize != 1<<20 || p.BufferInterval != 60*time.Second || p.NumberOfRetries != 3 {
		t.Errorf("Processor buffer = %d bytes, %v, %d retries; want 1 MiB, 1m0s, 3", p.BufferSize, p.BufferInterval, p.NumberOfRetries)
	}
	c := s.Conversion
	if c.Compression != "SNAPPY" || c.Database != glue.Database || c.Table != glue.VotesTable || c.TableLogicalID != "VotesTable" {
		t.Errorf("Conversion = %s %s.%s (%s), want SNAPPY %s.%s (VotesTable)", c.Compression, c.Database, c.Table, c.TableLogicalID, glue.Database, glue.VotesTable)
	}
}

// The Glue table in the template, the Go schema and the Firehose prefix
// must describe the same lake, or local and AWS runs drift apart.
func TestTemplateTableMatchesGlueSchema(t *testing.T) {
	s := loadVotesStream(t)
	c := s.Conversion

	if len(c.Columns) != len(glue.Columns) {
		t.Fatalf("template table has %d columns, glue.Columns has %d", len(c.Columns), len(glue.Columns))
	}
	for i, want := range glue.Columns {
		got := c.Columns[i]
		if got.Name != want.Name || got.Type != want.Type {
			t.Errorf("column %d = %s %s, glue.Columns has %s %s", i, got.Name, got.Type, want.Name, want.Type)
		}
	}

	keys := prefixKeys(s.Prefix)
	if len(c.PartitionKeys) != len(glue.PartitionKeys) || len(keys) != len(glue.PartitionKeys) {
		t.Fatalf("partition keys: table %v, prefix %v, glue.PartitionKeys %v", c.PartitionKeys, keys, glue.PartitionKeys)
	}
	for i, want := range glue.PartitionKeys {
		if c.PartitionKeys[i].Name != want.Name || c.PartitionKeys[i].Type != "string" {
			t.Errorf("table partition key %d = %s %s, want %s string", i, c.PartitionKeys[i].Name, c.PartitionKeys[i].Type, want.Name)
		}
		if keys[i] != want.Name {
			t.Errorf("prefix partition key %d = %s, want %s", i, keys[i], want.Name)
		}
	}
}

func TestTemplateProjectionMatchesPrefix(t *testing.T) {
	s := loadVotesStream(t)
	params := s.Conversion.TableParameters

	want := map[string]string{
		"projection.enabled":          "true",
		"projection.election_id.type": "injected",
		"projection.dt.type":          "date",
		"projection.dt.format":        "yyyy-MM-dd",
		"projection.hour.type":        "integer",
		"projection.hour.range":       "0,23",
		"projection.hour.digits":      "2",
	}
	for key, value := range want {
		if params[key] != value {
			t.Errorf("table parameter %s = %q, want %q", key, params[key], value)
		}
	}

	// storage.location.template writes ${key} where the prefix writes
	// !{partitionKeyFromLambda:key}.
	location := params["storage.location.template"]
	bucketPrefix := "s3://" + s.Bucket + "/"
	if !strings.HasPrefix(location, bucketPrefix) {
		t.Fatalf("storage.location.template = %q, want it under %s", location, bucketPrefix)
	}
	asPrefix := strings.TrimPrefix(location, bucketPrefix)
	for _, key := range glue.PartitionKeys {
		asPrefix = strings.ReplaceAll(asPrefix, "${"+key.Name+"}", "!{partitionKeyFromLambda:"+key.Name+"}")
	}
	if asPrefix != s.Prefix {
		t.Errorf("storage.location.template as a prefix = %q, stream prefix = %q", asPrefix, s.Prefix)
	}
}

func TestParseTemplateErrorsNameResourceAndProperty(t *testing.T) {
	const base = `
Parameters:
  Name: {Type: String, Default: lake}
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${Name}-bucket"
  Other:
    Type: AWS::SQS::Queue
  Stream:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      ExtendedS3DestinationConfiguration:
`
	cases := []struct {
		name        string
		destination string
		want        []string
	}{
		{
			name:        "missing bucket",
			destination: "        Prefix: x/\n",
			want:        []string{"resource Stream", "BucketARN", "missing"},
		},
		{
			name:        "bucket of wrong type",
			destination: "        BucketARN: !GetAtt Other.Arn\n",
			want:        []string{"resource Stream", "BucketARN", "AWS::SQS::Queue"},
		},
		{
			name:        "unknown parameter",
			destination: "        BucketARN: !GetAtt Bucket.Arn\n        Prefix: !Sub \"${Missing}/\"\n",
			want:        []string{"resource Stream", "Prefix", "Missing"},
		},
		{
			name: "invalid compression",
			destination: `        BucketARN: !GetAtt Bucket.Arn
        BufferingHints: {SizeInMBs: 64}
        DataFormatConversionConfiguration:
          InputFormatConfiguration: {Deserializer: {OpenXJsonSerDe: {}}}
          OutputFormatConfiguration: {Serializer: {ParquetSerDe: {Compression: LZO}}}
`,
			want: []string{"resource Stream", "ParquetSerDe.Compression", "LZO"},
		},
		{
			name: "unknown Glue table",
			destination: `        BucketARN: !GetAtt Bucket.Arn
        BufferingHints: {SizeInMBs: 5}
        DataFormatConversionConfiguration:
          InputFormatConfiguration: {Deserializer: {OpenXJsonSerDe: {}}}
          OutputFormatConfiguration: {Serializer: {ParquetSerDe: {}}}
          SchemaConfiguration: {DatabaseName: db, TableName: t}
`,
			want: []string{"resource Stream", "SchemaConfiguration", "no AWS::Glue::Table"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTemplate([]byte(base + c.destination))
			if err == nil {
				t.Fatal("ParseTemplate succeeded, want an error")
			}
			for _, part := range c.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not mention %q", err, part)
				}
			}
		})
	}
}

func TestParseTemplateShortTags(t *testing.T) {
	const text = `
Conditions:
  IsProd: !Equals [!Ref AWS::StackName, prod]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
  Unused:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !If [IsProd, !Join ["-", [a, !Select [0, !Split [",", "x,y"]]]], !Ref AWS::NoValue]
      Tags: [{Key: k, Value: !Base64 {"Fn::Sub": "${AWS::Region}"}}]
  Stream:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: !Join ["-", [!Ref AWS::StackName, votes]]
      ExtendedS3DestinationConfiguration:
        BucketARN: !Sub "arn:aws:s3:::${Bucket}"
        Prefix: !Sub ["${Root}/", {Root: !Ref AWS::Region}]
`
	tmpl, err := ParseTemplate([]byte(text))
	if err != nil {
		t.Fatalf("ParseTemplate: %v", err)
	}
	if len(tmpl.Streams) != 1 {
		t.Fatalf("got %d streams, want 1", len(tmpl.Streams))
	}
	s := tmpl.Streams[0]
	if s.Name != "votestream-votes" {
		t.Errorf("Name = %q, want votestream-votes", s.Name)
	}
	if s.Bucket != "bucket" {
		t.Errorf("Bucket = %q, want the lower-cased logical id bucket", s.Bucket)
	}
	if s.Prefix != "us-east-1/" {
		t.Errorf("Prefix = %q, want us-east-1/", s.Prefix)
	}
	if s.BufferSize != 5<<20 || s.BufferInterval != 300*time.Second {
		t.Errorf("buffering = %d bytes, %v; want the defaults 5 MiB, 5m0s", s.BufferSize, s.BufferInterval)
	}
}
