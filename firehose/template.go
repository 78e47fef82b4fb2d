package firehose

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Local values of the CloudFormation pseudo-parameters. ARNs that the local
// Firehose builds (stream, function, bucket) use them too.
const (
	LocalStackName = "votestream"
	LocalAccountID = "000000000000"
	LocalRegion    = "us-east-1"
	LocalPartition = "aws"
)

// Resource types that LoadTemplate reads.
const (
	typeDeliveryStream    = "AWS::KinesisFirehose::DeliveryStream"
	typeBucket            = "AWS::S3::Bucket"
	typeGlueDatabase      = "AWS::Glue::Database"
	typeGlueTable         = "AWS::Glue::Table"
	typeServerlessFunc    = "AWS::Serverless::Function"
	typeLambdaFunction    = "AWS::Lambda::Function"
	s3ARNPrefix           = "arn:aws:s3:::"
	mebibyte              = 1 << 20
	defaultS3BufferMiB    = 5
	defaultConvBufferMiB  = 128
	defaultS3IntervalSecs = 300
)

// Template is the part of a SAM or CloudFormation template that the local
// Firehose uses: the delivery streams and what they reference.
type Template struct {
	// Path is the file the template was read from.
	Path string

	// Parameters maps each template parameter to its Default, and each
	// pseudo-parameter (AWS::Region and others) to its local value.
	Parameters map[string]string

	// Streams lists one entry per AWS::KinesisFirehose::DeliveryStream,
	// sorted by logical id.
	Streams []Stream

	resources map[string]resource
}

type resource struct {
	id         string
	typ        string
	properties map[string]any
}

// Stream is the configuration of one delivery stream with an S3 destination,
// with every reference resolved to local values.
type Stream struct {
	// LogicalID is the resource's key under Resources.
	LogicalID string
	// Name is DeliveryStreamName, or LogicalID when the template sets none.
	Name string
	// ARN is the stream's ARN in the local account and region.
	ARN string

	// Bucket is the destination bucket name: the resolved BucketName of the
	// referenced AWS::S3::Bucket, else its logical id in lower case.
	Bucket string
	// Prefix and ErrorOutputPrefix are as written in the template, with
	// their !{namespace:key} expressions left for delivery to evaluate.
	Prefix            string
	ErrorOutputPrefix string

	// BufferSize and BufferInterval are the S3 BufferingHints: delivery
	// writes an object when either is reached.
	BufferSize     int64
	BufferInterval time.Duration

	// DynamicPartitioning is DynamicPartitioningConfiguration.Enabled.
	DynamicPartitioning bool

	// Processor is the Lambda processor, nil when processing is disabled.
	Processor *Processor
	// Conversion is the record format conversion, nil when disabled.
	Conversion *Conversion
}

// Processor is a Lambda processor of a delivery stream.
type Processor struct {
	// FunctionLogicalID is the logical id of the Lambda function resource
	// that LambdaArn references.
	FunctionLogicalID string
	// FunctionARN is that function's ARN in the local account and region.
	FunctionARN string
	// BufferSize and BufferInterval are BufferSizeInMBs and
	// BufferIntervalInSeconds: Firehose invokes the function when either is reached.
	BufferSize     int64
	BufferInterval time.Duration
	// NumberOfRetries is how many times a failed invocation is retried.
	NumberOfRetries int
}

// Conversion is the record format conversion of a delivery stream: OpenX
// JSON SerDe input, Parquet output, schema from a Glue table.
type Conversion struct {
	// Compression is the ParquetSerDe compression: SNAPPY, GZIP or UNCOMPRESSED.
	Compression string

	// Database and Table name the Glue table of SchemaConfiguration, and
	// TableLogicalID is that table's resource in this template.
	Database       string
	Table          string
	TableLogicalID string

	// Columns are the table's StorageDescriptor columns in file order, and
	// PartitionKeys its partition keys in order.
	Columns       []Column
	PartitionKeys []Column

	// TableParameters are the table's resolved TableInput.Parameters, such
	// as the partition projection settings.
	TableParameters map[string]string
}

// Column is a column of a Glue table, with a Hive type name.
type Column struct {
	Name string
	Type string
}

// LoadTemplate reads a SAM or CloudFormation template and returns its
// delivery streams. It accepts the short-form intrinsic tags (!Ref, !Sub,
// !GetAtt, !Join, !If and the others) anywhere, but resolves only Ref, Sub,
// Join and GetAtt, and only where a stream setting needs a value.
func LoadTemplate(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	t, err := ParseTemplate(data)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	t.Path = path
	return t, nil
}

// ParseTemplate is LoadTemplate on the template's bytes.
func ParseTemplate(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	root, err := nodeValue(&doc)
	if err != nil {
		return nil, err
	}
	top, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the template is not a YAML mapping")
	}

	t := &Template{
		Parameters: map[string]string{
			"AWS::StackName": LocalStackName,
			"AWS::AccountId": LocalAccountID,
			"AWS::Region":    LocalRegion,
			"AWS::Partition": LocalPartition,
			"AWS::URLSuffix": "amazonaws.com",
			"AWS::StackId":   "arn:aws:cloudformation:" + LocalRegion + ":" + LocalAccountID + ":stack/" + LocalStackName + "/local",
		},
		resources: map[string]resource{},
	}
	if err := t.readParameters(top["Parameters"]); err != nil {
		return nil, err
	}
	if err := t.readResources(top["Resources"]); err != nil {
		return nil, err
	}

	ids := make([]string, 0, len(t.resources))
	for id, r := range t.resources {
		// A stream that reads Amazon MSK has no Direct PUT API to serve
		// locally; the local stack feeds the Direct PUT stream instead.
		if r.typ == typeDeliveryStream && r.properties["DeliveryStreamType"] != "MSKAsSource" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		s, err := t.stream(t.resources[id])
		if err != nil {
			return nil, err
		}
		t.Streams = append(t.Streams, s)
	}
	return t, nil
}

// Stream returns the stream named name, matching Name or LogicalID.
func (t *Template) Stream(name string) (Stream, bool) {
	for _, s := range t.Streams {
		if s.Name == name || s.LogicalID == name {
			return s, true
		}
	}
	return Stream{}, false
}

func (t *Template) readParameters(v any) error {
	if v == nil {
		return nil
	}
	params, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("Parameters is not a mapping")
	}
	for name, p := range params {
		def, ok := lookup(p, "Default")
		if !ok {
			// A parameter without a Default gets no local value; a Ref to it fails.
			continue
		}
		s, err := scalarString(def)
		if err != nil {
			return fmt.Errorf("parameter %s: Default: %w", name, err)
		}
		t.Parameters[name] = s
	}
	return nil
}

func (t *Template) readResources(v any) error {
	resources, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("Resources is missing or not a mapping")
	}
	for id, r := range resources {
		typ, _ := lookup(r, "Type")
		typeName, ok := typ.(string)
		if !ok {
			return fmt.Errorf("resource %s: Type is missing or not a string", id)
		}
		props, _ := lookup(r, "Properties")
		propMap, _ := props.(map[string]any)
		t.resources[id] = resource{id: id, typ: typeName, properties: propMap}
	}
	return nil
}

// stream builds the Stream of one AWS::KinesisFirehose::DeliveryStream.
func (t *Template) stream(r resource) (Stream, error) {
	s := Stream{LogicalID: r.id, Name: r.id}
	fail := func(property string, err error) error {
		return fmt.Errorf("resource %s: property %s: %w", r.id, property, err)
	}

	if v, ok := r.properties["DeliveryStreamName"]; ok {
		name, err := t.resolve(v)
		if err != nil {
			return s, fail("DeliveryStreamName", err)
		}
		s.Name = name
	}
	s.ARN = fmt.Sprintf("arn:%s:firehose:%s:%s:deliverystream/%s", LocalPartition, LocalRegion, LocalAccountID, s.Name)
	if v, ok := r.properties["DeliveryStreamType"]; ok {
		typ, err := t.resolve(v)
		if err != nil {
			return s, fail("DeliveryStreamType", err)
		}
		if typ != "DirectPut" {
			return s, fail("DeliveryStreamType", fmt.Errorf("%q is not supported locally: use DirectPut", typ))
		}
	}

	dest, ok := r.properties["ExtendedS3DestinationConfiguration"]
	if !ok {
		return s, fail("ExtendedS3DestinationConfiguration", fmt.Errorf("missing: the local Firehose supports only S3 destinations configured with it"))
	}
	const destPath = "ExtendedS3DestinationConfiguration."

	bucketARN, ok := lookup(dest, "BucketARN")
	if !ok {
		return s, fail(destPath+"BucketARN", fmt.Errorf("missing"))
	}
	bucket, err := t.bucketName(bucketARN)
	if err != nil {
		return s, fail(destPath+"BucketARN", err)
	}
	s.Bucket = bucket

	for _, p := range []struct {
		name string
		dst  *string
	}{{"Prefix", &s.Prefix}, {"ErrorOutputPrefix", &s.ErrorOutputPrefix}} {
		v, ok := lookup(dest, p.name)
		if !ok {
			continue
		}
		value, err := t.resolve(v)
		if err != nil {
			return s, fail(destPath+p.name, err)
		}
		*p.dst = value
	}

	if v, ok := lookup(dest, "DynamicPartitioningConfiguration", "Enabled"); ok {
		enabled, err := t.resolveBool(v)
		if err != nil {
			return s, fail(destPath+"DynamicPartitioningConfiguration.Enabled", err)
		}
		s.DynamicPartitioning = enabled
	}
	if s.DynamicPartitioning && s.ErrorOutputPrefix == "" {
		return s, fail(destPath+"ErrorOutputPrefix", fmt.Errorf("missing: dynamic partitioning requires an error output prefix"))
	}

	if s.Processor, err = t.processor(dest); err != nil {
		return s, fail(destPath+"ProcessingConfiguration", err)
	}
	if s.Conversion, err = t.conversion(dest); err != nil {
		return s, fail(destPath+"DataFormatConversionConfiguration", err)
	}

	sizeMiB := float64(defaultS3BufferMiB)
	if s.Conversion != nil {
		sizeMiB = defaultConvBufferMiB
	}
	if v, ok := lookup(dest, "BufferingHints", "SizeInMBs"); ok {
		if sizeMiB, err = t.resolveFloat(v); err != nil {
			return s, fail(destPath+"BufferingHints.SizeInMBs", err)
		}
	}
	if s.Conversion != nil && sizeMiB < 64 {
		return s, fail(destPath+"BufferingHints.SizeInMBs", fmt.Errorf("%g MiB is below the 64 MiB minimum with record format conversion", sizeMiB))
	}
	s.BufferSize = int64(sizeMiB * mebibyte)
	intervalSecs := float64(defaultS3IntervalSecs)
	if v, ok := lookup(dest, "BufferingHints", "IntervalInSeconds"); ok {
		if intervalSecs, err = t.resolveFloat(v); err != nil {
			return s, fail(destPath+"BufferingHints.IntervalInSeconds", err)
		}
	}
	s.BufferInterval = time.Duration(intervalSecs * float64(time.Second))

	return s, nil
}

// enabledSection returns the property name of dest, and false when it is
// absent or its Enabled property is false.
func (t *Template) enabledSection(dest any, name string) (any, bool, error) {
	config, ok := lookup(dest, name)
	if !ok {
		return nil, false, nil
	}
	if v, ok := lookup(config, "Enabled"); ok {
		enabled, err := t.resolveBool(v)
		if err != nil {
			return nil, false, fmt.Errorf("Enabled: %w", err)
		}
		if !enabled {
			return nil, false, nil
		}
	}
	return config, true, nil
}

// processor reads the Lambda processor of ProcessingConfiguration, or
// returns nil when there is none or it is disabled.
func (t *Template) processor(dest any) (*Processor, error) {
	config, ok, err := t.enabledSection(dest, "ProcessingConfiguration")
	if err != nil || !ok {
		return nil, err
	}
	processors, _ := lookup(config, "Processors")
	list, _ := processors.([]any)
	for i, p := range list {
		typ, _ := lookup(p, "Type")
		if typ != "Lambda" {
			// NOTE: other processor types (RecordDeAggregation, AppendDelimiterToRecord)
			// are skipped, so a template that relies on them behaves differently locally.
			continue
		}
		proc, err := t.lambdaProcessor(p)
		if err != nil {
			return nil, fmt.Errorf("Processors[%d]: %w", i, err)
		}
		return proc, nil
	}
	return nil, nil
}

func (t *Template) lambdaProcessor(p any) (*Processor, error) {
	proc := &Processor{
		BufferSize:      1 * mebibyte,
		BufferInterval:  60 * time.Second,
		NumberOfRetries: 3,
	}
	params, _ := lookup(p, "Parameters")
	list, _ := params.([]any)
	for _, param := range list {
		nameValue, _ := lookup(param, "ParameterName")
		name, _ := nameValue.(string)
		value, ok := lookup(param, "ParameterValue")
		if !ok {
			return nil, fmt.Errorf("parameter %s: ParameterValue is missing", name)
		}
		var err error
		switch name {
		case "LambdaArn":
			proc.FunctionLogicalID, err = t.functionID(value)
		case "BufferSizeInMBs":
			var mib float64
			mib, err = t.resolveFloat(value)
			proc.BufferSize = int64(mib * mebibyte)
		case "BufferIntervalInSeconds":
			var secs float64
			secs, err = t.resolveFloat(value)
			proc.BufferInterval = time.Duration(secs * float64(time.Second))
		case "NumberOfRetries":
			var retries float64
			retries, err = t.resolveFloat(value)
			proc.NumberOfRetries = int(retries)
		}
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", name, err)
		}
	}
	if proc.FunctionLogicalID == "" {
		return nil, fmt.Errorf("the Lambda processor has no LambdaArn parameter")
	}
	functionName := proc.FunctionLogicalID
	if v, ok := t.resources[proc.FunctionLogicalID].properties["FunctionName"]; ok {
		name, err := t.resolve(v)
		if err != nil {
			return nil, fmt.Errorf("resource %s: property FunctionName: %w", proc.FunctionLogicalID, err)
		}
		functionName = name
	}
	proc.FunctionARN = fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", LocalPartition, LocalRegion, LocalAccountID, functionName)
	return proc, nil
}

// functionID returns the logical id of the function that a LambdaArn value
// references: !GetAtt F.Arn, !Ref F, !Sub "${F.Arn}", or an ARN whose
// function name is a FunctionName in the template.
func (t *Template) functionID(v any) (string, error) {
	id, ok := referencedID(v)
	if !ok {
		arn, err := t.resolve(v)
		if err != nil {
			return "", err
		}
		name := arn[strings.LastIndex(arn, ":")+1:]
		for rid, r := range t.resources {
			if r.typ != typeServerlessFunc && r.typ != typeLambdaFunction {
				continue
			}
			if fn, ok := r.properties["FunctionName"]; ok {
				if resolved, err := t.resolve(fn); err == nil && resolved == name {
					id = rid
				}
			}
		}
		if id == "" {
			return "", fmt.Errorf("%q names no Lambda function of this template", arn)
		}
	}
	r, ok := t.resources[id]
	if !ok {
		return "", fmt.Errorf("resource %q is not in the template", id)
	}
	if r.typ != typeServerlessFunc && r.typ != typeLambdaFunction {
		return "", fmt.Errorf("resource %s is a %s, not a Lambda function", id, r.typ)
	}
	return id, nil
}

// conversion reads DataFormatConversionConfiguration and the Glue table it
// references, or returns nil when conversion is absent or disabled.
func (t *Template) conversion(dest any) (*Conversion, error) {
	config, ok, err := t.enabledSection(dest, "DataFormatConversionConfiguration")
	if err != nil || !ok {
		return nil, err
	}

	if _, ok := lookup(config, "InputFormatConfiguration", "Deserializer", "OpenXJsonSerDe"); !ok {
		return nil, fmt.Errorf("InputFormatConfiguration.Deserializer: only OpenXJsonSerDe is supported locally")
	}
	for _, option := range []string{"ColumnToJsonKeyMappings", "ConvertDotsInJsonKeysToUnderscores"} {
		if _, ok := lookup(config, "InputFormatConfiguration", "Deserializer", "OpenXJsonSerDe", option); ok {
			return nil, fmt.Errorf("InputFormatConfiguration.Deserializer.OpenXJsonSerDe.%s is not supported locally", option)
		}
	}

	c := &Conversion{Compression: "SNAPPY"}
	parquet, ok := lookup(config, "OutputFormatConfiguration", "Serializer", "ParquetSerDe")
	if !ok {
		return nil, fmt.Errorf("OutputFormatConfiguration.Serializer: only ParquetSerDe is supported locally")
	}
	if v, ok := lookup(parquet, "Compression"); ok {
		compression, err := t.resolve(v)
		if err != nil {
			return nil, fmt.Errorf("OutputFormatConfiguration.Serializer.ParquetSerDe.Compression: %w", err)
		}
		switch compression {
		case "SNAPPY", "GZIP", "UNCOMPRESSED":
			c.Compression = compression
		default:
			return nil, fmt.Errorf("OutputFormatConfiguration.Serializer.ParquetSerDe.Compression: %q is invalid: use SNAPPY, GZIP or UNCOMPRESSED", compression)
		}
	}

	schema, ok := lookup(config, "SchemaConfiguration")
	if !ok {
		return nil, fmt.Errorf("SchemaConfiguration is missing")
	}
	tableID, err := t.tableID(schema)
	if err != nil {
		return nil, fmt.Errorf("SchemaConfiguration: %w", err)
	}
	if err := t.readTable(tableID, c); err != nil {
		return nil, err
	}
	return c, nil
}

// tableID finds the AWS::Glue::Table resource that SchemaConfiguration
// names, by reference or by resolved database and table name.
func (t *Template) tableID(schema any) (string, error) {
	tableValue, ok := lookup(schema, "TableName")
	if !ok {
		return "", fmt.Errorf("TableName is missing")
	}
	if id, ok := referencedID(tableValue); ok {
		if r, ok := t.resources[id]; ok && r.typ == typeGlueTable {
			return id, nil
		}
	}
	tableName, err := t.resolve(tableValue)
	if err != nil {
		return "", fmt.Errorf("TableName: %w", err)
	}
	dbValue, ok := lookup(schema, "DatabaseName")
	if !ok {
		return "", fmt.Errorf("DatabaseName is missing")
	}
	dbName, err := t.resolve(dbValue)
	if err != nil {
		return "", fmt.Errorf("DatabaseName: %w", err)
	}
	for id, r := range t.resources {
		if r.typ != typeGlueTable {
			continue
		}
		name, err1 := t.resolvePath(r.properties, "TableInput", "Name")
		db, err2 := t.resolvePath(r.properties, "DatabaseName")
		if err1 == nil && err2 == nil && name == tableName && db == dbName {
			return id, nil
		}
	}
	return "", fmt.Errorf("no AWS::Glue::Table in the template has database %q and name %q", dbName, tableName)
}

// readTable fills c from the AWS::Glue::Table resource id.
func (t *Template) readTable(id string, c *Conversion) error {
	r := t.resources[id]
	fail := func(property string, err error) error {
		return fmt.Errorf("resource %s: property %s: %w", id, property, err)
	}
	c.TableLogicalID = id

	var err error
	if c.Table, err = t.resolvePath(r.properties, "TableInput", "Name"); err != nil {
		return fail("TableInput.Name", err)
	}
	if c.Database, err = t.resolvePath(r.properties, "DatabaseName"); err != nil {
		return fail("DatabaseName", err)
	}

	columns, _ := lookup(r.properties, "TableInput", "StorageDescriptor", "Columns")
	if c.Columns, err = t.columns(columns); err != nil {
		return fail("TableInput.StorageDescriptor.Columns", err)
	}
	if len(c.Columns) == 0 {
		return fail("TableInput.StorageDescriptor.Columns", fmt.Errorf("missing or empty"))
	}
	keys, _ := lookup(r.properties, "TableInput", "PartitionKeys")
	if c.PartitionKeys, err = t.columns(keys); err != nil {
		return fail("TableInput.PartitionKeys", err)
	}

	c.TableParameters = map[string]string{}
	params, _ := lookup(r.properties, "TableInput", "Parameters")
	paramMap, _ := params.(map[string]any)
	for key, v := range paramMap {
		value, err := t.resolve(v)
		if err != nil {
			return fail("TableInput.Parameters."+key, err)
		}
		c.TableParameters[key] = value
	}
	return nil
}

func (t *Template) columns(v any) ([]Column, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("not a list")
	}
	columns := make([]Column, 0, len(list))
	for i, item := range list {
		name, err := t.resolvePath(item, "Name")
		if err != nil {
			return nil, fmt.Errorf("[%d].Name: %w", i, err)
		}
		typ, err := t.resolvePath(item, "Type")
		if err != nil {
			return nil, fmt.Errorf("[%d].Type: %w", i, err)
		}
		columns = append(columns, Column{Name: name, Type: strings.ToLower(typ)})
	}
	return columns, nil
}

// bucketName returns the bucket that a BucketARN value names.
func (t *Template) bucketName(v any) (string, error) {
	if id, ok := referencedID(v); ok {
		r, ok := t.resources[id]
		if !ok {
			return "", fmt.Errorf("resource %q is not in the template", id)
		}
		if r.typ != typeBucket {
			return "", fmt.Errorf("resource %s is a %s, not an AWS::S3::Bucket", id, r.typ)
		}
		return t.refValue(id)
	}
	arn, err := t.resolve(v)
	if err != nil {
		return "", err
	}
	name, ok := strings.CutPrefix(arn, s3ARNPrefix)
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("%q is not an S3 bucket ARN such as %sbucket-name", arn, s3ARNPrefix)
	}
	return name, nil
}

// referencedID returns the logical id in !Ref X, !GetAtt X.Attr or
// !Sub "${X.Attr}" (a Sub of exactly one reference).
func referencedID(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	if ref, ok := m["Ref"].(string); ok {
		return ref, !strings.HasPrefix(ref, "AWS::")
	}
	if args, ok := m["Fn::GetAtt"].([]any); ok && len(args) == 2 {
		id, ok := args[0].(string)
		return id, ok
	}
	if sub, ok := m["Fn::Sub"].(string); ok && strings.HasPrefix(sub, "${") && strings.HasSuffix(sub, "}") && strings.Count(sub, "${") == 1 {
		inner := sub[2 : len(sub)-1]
		if id, _, found := strings.Cut(inner, "."); found {
			return id, true
		}
	}
	return "", false
}

// resolvePath resolves the value at path under v to a string.
func (t *Template) resolvePath(v any, path ...string) (string, error) {
	value, ok := lookup(v, path...)
	if !ok {
		return "", fmt.Errorf("missing")
	}
	return t.resolve(value)
}

// resolve evaluates a template value to a string: scalars as written, and
// Ref, Fn::Sub, Fn::Join and Fn::GetAtt with local values.
func (t *Template) resolve(v any) (string, error) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) != 1 {
			return "", fmt.Errorf("expected a value or one intrinsic function, got a mapping with %d keys", len(v))
		}
		for fn, arg := range v {
			return t.intrinsic(fn, arg)
		}
	case []any:
		return "", fmt.Errorf("expected a value, got a list")
	}
	return scalarString(v)
}

func (t *Template) intrinsic(fn string, arg any) (string, error) {
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return "", fmt.Errorf("Ref takes a name, got %T", arg)
		}
		return t.refValue(name)
	case "Fn::GetAtt":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			return "", fmt.Errorf("Fn::GetAtt takes [LogicalId, Attribute]")
		}
		id, _ := args[0].(string)
		attr, _ := args[1].(string)
		return t.attribute(id, attr)
	case "Fn::Sub":
		return t.sub(arg)
	case "Fn::Join":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			return "", fmt.Errorf("Fn::Join takes [delimiter, [values]]")
		}
		delimiter, _ := args[0].(string)
		items, ok := args[1].([]any)
		if !ok {
			return "", fmt.Errorf("Fn::Join: the second argument is not a list")
		}
		parts := make([]string, len(items))
		for i, item := range items {
			part, err := t.resolve(item)
			if err != nil {
				return "", fmt.Errorf("Fn::Join[%d]: %w", i, err)
			}
			parts[i] = part
		}
		return strings.Join(parts, delimiter), nil
	}
	return "", fmt.Errorf("intrinsic function %s cannot be evaluated locally", fn)
}

// refValue returns what Ref name evaluates to: a parameter's Default, a
// pseudo-parameter's local value, or a resource's local physical id.
func (t *Template) refValue(name string) (string, error) {
	if v, ok := t.Parameters[name]; ok {
		return v, nil
	}
	r, ok := t.resources[name]
	if !ok {
		return "", fmt.Errorf("Ref %s: no parameter with a Default and no resource has that name", name)
	}
	var namePath []string
	switch r.typ {
	case typeBucket:
		namePath = []string{"BucketName"}
	case typeGlueDatabase:
		namePath = []string{"DatabaseInput", "Name"}
	case typeGlueTable:
		namePath = []string{"TableInput", "Name"}
	case typeDeliveryStream:
		namePath = []string{"DeliveryStreamName"}
	case typeServerlessFunc, typeLambdaFunction:
		namePath = []string{"FunctionName"}
	case "AWS::Logs::LogGroup":
		namePath = []string{"LogGroupName"}
	case "AWS::Logs::LogStream":
		namePath = []string{"LogStreamName"}
	}
	if namePath != nil {
		if v, ok := lookup(r.properties, namePath...); ok {
			return t.resolve(v)
		}
	}
	if r.typ == typeBucket {
		return strings.ToLower(name), nil
	}
	return name, nil
}

// attribute returns Fn::GetAtt id.attr as a local ARN. Only Arn attributes
// are known; others fail.
func (t *Template) attribute(id, attr string) (string, error) {
	r, ok := t.resources[id]
	if !ok {
		return "", fmt.Errorf("Fn::GetAtt %s.%s: resource %q is not in the template", id, attr, id)
	}
	if attr != "Arn" {
		return "", fmt.Errorf("Fn::GetAtt %s.%s: only the Arn attribute is known locally", id, attr)
	}
	physical, err := t.refValue(id)
	if err != nil {
		return "", err
	}
	prefix := fmt.Sprintf("arn:%s:", LocalPartition)
	switch r.typ {
	case typeBucket:
		return s3ARNPrefix + physical, nil
	case typeServerlessFunc, typeLambdaFunction:
		return fmt.Sprintf("%slambda:%s:%s:function:%s", prefix, LocalRegion, LocalAccountID, physical), nil
	case typeDeliveryStream:
		return fmt.Sprintf("%sfirehose:%s:%s:deliverystream/%s", prefix, LocalRegion, LocalAccountID, physical), nil
	case "AWS::IAM::Role":
		return fmt.Sprintf("%siam::%s:role/%s", prefix, LocalAccountID, physical), nil
	case "AWS::Logs::LogGroup":
		return fmt.Sprintf("%slogs:%s:%s:log-group:%s:*", prefix, LocalRegion, LocalAccountID, physical), nil
	}
	return fmt.Sprintf("%s%s:%s:%s:%s", prefix, strings.ToLower(strings.Split(r.typ, "::")[1]), LocalRegion, LocalAccountID, physical), nil
}

// sub evaluates Fn::Sub in either form: a string, or [string, {name: value}].
func (t *Template) sub(arg any) (string, error) {
	var text string
	vars := map[string]any{}
	switch a := arg.(type) {
	case string:
		text = a
	case []any:
		if len(a) != 2 {
			return "", fmt.Errorf("Fn::Sub takes a string or [string, {variables}]")
		}
		text, _ = a[0].(string)
		m, _ := a[1].(map[string]any)
		vars = m
	default:
		return "", fmt.Errorf("Fn::Sub takes a string or [string, {variables}]")
	}

	var out strings.Builder
	for {
		start := strings.Index(text, "${")
		if start < 0 {
			out.WriteString(text)
			return out.String(), nil
		}
		end := strings.Index(text[start:], "}")
		if end < 0 {
			return "", fmt.Errorf("Fn::Sub %q: unclosed ${", text)
		}
		out.WriteString(text[:start])
		name := text[start+2 : start+end]
		text = text[start+end+1:]

		// ${!Literal} writes ${Literal} unchanged.
		if literal, ok := strings.CutPrefix(name, "!"); ok {
			out.WriteString("${" + literal + "}")
			continue
		}
		var value string
		var err error
		if v, ok := vars[name]; ok {
			value, err = t.resolve(v)
		} else if id, attr, ok := strings.Cut(name, "."); ok {
			value, err = t.attribute(id, attr)
		} else {
			value, err = t.refValue(name)
		}
		if err != nil {
			return "", fmt.Errorf("Fn::Sub ${%s}: %w", name, err)
		}
		out.WriteString(value)
	}
}

func (t *Template) resolveBool(v any) (bool, error) {
	if b, ok := v.(bool); ok {
		return b, nil
	}
	s, err := t.resolve(v)
	if err != nil {
		return false, err
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", s)
	}
	return b, nil
}

func (t *Template) resolveFloat(v any) (float64, error) {
	s, err := t.resolve(v)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a non-negative number", s)
	}
	return f, nil
}

func scalarString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case nil:
		return "", fmt.Errorf("value is empty")
	}
	return "", fmt.Errorf("value of type %T is not a scalar", v)
}

// lookup walks nested mappings by key.
func lookup(v any, path ...string) (any, bool) {
	for _, key := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// nodeValue converts a YAML node to plain Go values. A short-form tag such
// as !GetAtt X.Arn becomes its long form {"Fn::GetAtt": ["X", "Arn"]}, so
// that the resolver sees one shape for both spellings.
func nodeValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, fmt.Errorf("the template is empty")
		}
		return nodeValue(n.Content[0])
	case yaml.AliasNode:
		return nodeValue(n.Alias)
	}

	value, err := untaggedValue(n)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return value, nil
	}

	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: value}, nil
	case "GetAtt":
		if s, ok := value.(string); ok {
			id, attr, _ := strings.Cut(s, ".")
			value = []any{id, attr}
		}
	}
	return map[string]any{"Fn::" + name: value}, nil
}

func untaggedValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			v, err := nodeValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[key] = v
		}
		return m, nil
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			v, err := nodeValue(item)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, nil
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			// The argument of a short-form tag is text, whatever it looks like.
			return n.Value, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}
