package samcheck

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation/glue"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"gopkg.in/yaml.v3"

	lake "github.com/votestream/votestream/glue"
)

const (
	repoRoot     = "../.."
	templatePath = repoRoot + "/sam-template.yaml"
)

const (
	tallySecretARN    = "arn:aws:secretsmanager:us-east-1:111122223333:secret:AmazonMSK_tally-AbCdEf"
	tallySecretKeyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// modes are the parameter values that change which resources and
// statements exist: the bridge with QuickSight, Firehose reading MSK
// without it, and each way the tally function connects to Kafka.
var modes = []struct {
	name   string
	values map[string]string
}{
	{"bridge", map[string]string{"SourceMode": "bridge", "EnableQuickSight": "true", "BridgeArtifactBucket": "artifacts",
		"QuickSightPrincipalArn": "arn:aws:quicksight:us-east-1:111122223333:user/default/analyst", "TallyKafkaSecurity": "iam"}},
	{"msk", map[string]string{"SourceMode": "msk", "EnableQuickSight": "false", "TallyKafkaSecurity": "plaintext"}},
	{"tally-scram", map[string]string{"SourceMode": "bridge", "EnableQuickSight": "false", "BridgeArtifactBucket": "artifacts",
		"TallyKafkaSecurity": "scram", "TallyKafkaSecretArn": tallySecretARN, "TallyKafkaSecretKeyArn": tallySecretKeyARN}},
	{"tally-tls", map[string]string{"SourceMode": "msk", "EnableQuickSight": "false", "TallyKafkaSecurity": "tls"}},
}

func load(t *testing.T) (*Template, map[string]any) {
	t.Helper()
	tmpl, raw, err := Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl, raw
}

// specialized returns the raw template for one mode, its parameter values
// and its parameter types.
func specialized(t *testing.T, tmpl *Template, raw map[string]any, values map[string]string) (map[string]any, map[string]any, map[string]string) {
	t.Helper()
	params := tmpl.ParameterValues(values)
	conditions, err := tmpl.EvaluateConditions(params)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for name, p := range tmpl.Parameters {
		types[name], _ = p["Type"].(string)
	}
	return Specialize(raw, conditions), params, types
}

func TestTemplateReferencesResolve(t *testing.T) {
	tmpl, _ := load(t)
	for _, p := range CheckReferences(tmpl) {
		t.Error(p)
	}
}

// CheckReferences must catch what it claims to, or the test above proves
// nothing.
func TestCheckReferencesFindsErrors(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown Ref", "R: {Type: AWS::S3::Bucket, Properties: {BucketName: !Ref Nope}}", `"Nope" is not a parameter`},
		{"unknown Sub variable", `R: {Type: AWS::S3::Bucket, Properties: {BucketName: !Sub "${Nope}-x"}}`, `"Nope" is not a parameter`},
		{"unknown attribute", "K: {Type: AWS::KMS::Key}\n  R: {Type: AWS::S3::Bucket, Properties: {BucketName: !GetAtt K.Nope}}", `K has no attribute "Nope"`},
		{"unconditional use of conditional resource", "K: {Type: AWS::KMS::Key, Condition: C}\n  R: {Type: AWS::S3::Bucket, Properties: {BucketName: !Ref K}}", "exists only when C is true"},
		{"undefined condition", "R: {Type: AWS::S3::Bucket, Condition: Missing}", `condition "Missing" is not defined`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.yaml")
			text := "Conditions:\n  C: !Equals [a, b]\nResources:\n  " + c.yaml + "\n"
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			tmpl, _, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			problems := strings.Join(CheckReferences(tmpl), "\n")
			if !strings.Contains(problems, c.want) {
				t.Errorf("problems = %q, want one containing %q", problems, c.want)
			}
		})
	}
}

// Every resource, in every mode, unmarshals into goformation's typed
// resource, which rejects unknown types and unknown or mistyped properties.
func TestTemplateResourcesAreTyped(t *testing.T) {
	tmpl, raw := load(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			spec, params, types := specialized(t, tmpl, raw, m.values)
			typed, err := Typed(spec, params, types)
			if err != nil {
				t.Fatalf("typed parse: %v", err)
			}
			want := len(spec["Resources"].(map[string]any))
			if len(typed.Resources) != want {
				t.Errorf("typed template has %d resources, want %d", len(typed.Resources), want)
			}
		})
	}
}

func TestGlueTableMatchesSchema(t *testing.T) {
	tmpl, raw := load(t)
	spec, params, types := specialized(t, tmpl, raw, modes[0].values)
	typed, err := Typed(spec, params, types)
	if err != nil {
		t.Fatal(err)
	}
	table, err := typed.GetGlueTableWithName("VotesTable")
	if err != nil {
		t.Fatal(err)
	}

	var columns []lake.Column
	for _, c := range table.TableInput.StorageDescriptor.Columns {
		columns = append(columns, lake.Column{Name: c.Name, Type: deref(c.Type), Comment: deref(c.Comment)})
	}
	if !reflect.DeepEqual(columns, lake.Columns) {
		t.Errorf("VotesTable columns = %v, want glue.Columns %v", columns, lake.Columns)
	}

	var keys []string
	for _, k := range table.TableInput.PartitionKeys {
		keys = append(keys, k.Name)
	}
	if !slices.Equal(keys, partitionKeyNames()) {
		t.Errorf("VotesTable partition keys = %v, want %v", keys, partitionKeyNames())
	}
	if got := projectionKeys(table); !slices.Equal(got, sorted(partitionKeyNames())) {
		t.Errorf("projection.<key>.type keys = %v, want %v", got, sorted(partitionKeyNames()))
	}
}

func TestRegionsTableMatchesSchema(t *testing.T) {
	tmpl, raw := load(t)
	spec, params, types := specialized(t, tmpl, raw, modes[0].values)
	typed, err := Typed(spec, params, types)
	if err != nil {
		t.Fatal(err)
	}
	table, err := typed.GetGlueTableWithName("RegionsTable")
	if err != nil {
		t.Fatal(err)
	}
	if got := deref(table.TableInput.Name); got != lake.RegionsTable {
		t.Errorf("RegionsTable name = %q, want %q", got, lake.RegionsTable)
	}
	var columns []lake.Column
	for _, c := range table.TableInput.StorageDescriptor.Columns {
		columns = append(columns, lake.Column{Name: c.Name, Type: deref(c.Type)})
	}
	var want []lake.Column
	for _, c := range lake.RegionColumns {
		want = append(want, lake.Column{Name: c.Name, Type: c.Type})
	}
	if !reflect.DeepEqual(columns, want) {
		t.Errorf("RegionsTable columns = %v, want glue.RegionColumns %v", columns, want)
	}
}

func projectionKeys(table *glue.Table) []string {
	params, _ := table.TableInput.Parameters.(map[string]any)
	var keys []string
	for k := range params {
		if rest, ok := strings.CutPrefix(k, "projection."); ok {
			if key, ok := strings.CutSuffix(rest, ".type"); ok {
				keys = append(keys, key)
			}
		}
	}
	return sorted(keys)
}

var prefixKey = regexp.MustCompile(`!\{partitionKeyFromLambda:([a-z_]+)\}`)

func TestStreamPrefixKeysMatchPartitionKeys(t *testing.T) {
	tmpl, _ := load(t)
	for _, id := range []string{"VotesDeliveryStream", "VotesMSKDeliveryStream"} {
		dest, _ := tmpl.Resources[id].Properties["ExtendedS3DestinationConfiguration"].(map[string]any)
		prefix, _ := dest["Prefix"].(string)
		var keys []string
		for _, m := range prefixKey.FindAllStringSubmatch(prefix, -1) {
			keys = append(keys, m[1])
		}
		if !slices.Equal(keys, partitionKeyNames()) {
			t.Errorf("%s prefix keys = %v, want %v", id, keys, partitionKeyNames())
		}
	}
}

func TestStreamsShareDestination(t *testing.T) {
	tmpl, _ := load(t)
	direct := tmpl.Resources["VotesDeliveryStream"].Properties["ExtendedS3DestinationConfiguration"]
	msk := tmpl.Resources["VotesMSKDeliveryStream"].Properties["ExtendedS3DestinationConfiguration"]
	if direct == nil || !reflect.DeepEqual(direct, msk) {
		a, _ := json.MarshalIndent(direct, "", " ")
		b, _ := json.MarshalIndent(msk, "", " ")
		t.Errorf("ExtendedS3DestinationConfiguration differs:\nVotesDeliveryStream: %s\nVotesMSKDeliveryStream: %s", a, b)
	}
}

func TestLambdaRowKeysMatchColumns(t *testing.T) {
	rowType := reflect.TypeOf(lake.Row{})
	var keys []string
	for i := range rowType.NumField() {
		name, _, _ := strings.Cut(rowType.Field(i).Tag.Get("json"), ",")
		keys = append(keys, name)
	}
	var columns []string
	for _, c := range lake.Columns {
		columns = append(columns, c.Name)
	}
	if !slices.Equal(keys, columns) {
		t.Errorf("glue.Row JSON keys = %v, want the column names %v", keys, columns)
	}
}

// The saved queries are the Athena DDL of glue.Views, with the database
// name left to Fn::Sub.
func TestNamedQueriesMatchViews(t *testing.T) {
	tmpl, _ := load(t)
	queries := map[string]string{}
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::Athena::NamedQuery" {
			continue
		}
		name, _ := r.Properties["Name"].(string)
		sub, _ := r.Properties["QueryString"].(map[string]any)
		text, _ := sub["Fn::Sub"].(string)
		if _, dup := queries[name]; dup {
			t.Errorf("%s: a second named query is called %s", id, name)
		}
		queries[name] = text
	}
	if len(queries) != len(lake.Views) {
		t.Errorf("template has %d named queries, glue.Views has %d views", len(queries), len(lake.Views))
	}
	ddl := lake.AthenaViewDDL("${GlueDatabaseName}")
	for i, v := range lake.Views {
		got, ok := queries[v.Name]
		if !ok {
			t.Errorf("no AWS::Athena::NamedQuery named %s; add to sam-template.yaml:\n%s", v.Name, namedQueryYAML(v, ddl[i]))
			continue
		}
		if strings.TrimSpace(got) != strings.TrimSpace(ddl[i]) {
			t.Errorf("named query %s =\n%s\nwant !Sub of\n%s", v.Name, got, ddl[i])
		}
	}
}

// namedQueryYAML returns the template resource of one view's named query.
func namedQueryYAML(v lake.View, ddl string) string {
	id := ""
	for _, part := range strings.Split(v.Name, "_") {
		id += strings.ToUpper(part[:1]) + part[1:]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  %sViewQuery:\n    Type: AWS::Athena::NamedQuery\n    Properties:\n      Name: %s\n", id, v.Name)
	fmt.Fprintf(&b, "      Description: %q\n      Database: !Ref GlueDatabase\n      WorkGroup: !Ref AthenaWorkGroup\n      QueryString: !Sub |\n", strings.ReplaceAll(v.Comment, "\n", " "))
	for _, line := range strings.Split(ddl, "\n") {
		fmt.Fprintf(&b, "        %s\n", line)
	}
	return b.String()
}

// principal is the code behind one role and the calls made for it by AWS
// itself, which no Go code shows.
type principal struct {
	role     string
	packages []string // Go packages whose SDK calls run under the role
	files    []string // single files, for main packages that also hold other commands
	// platform maps each further action to why the role needs it.
	platform map[string]string
	// notCalled maps SDK calls that the code contains but does not make
	// with the mode's parameter values to why, so the role must not allow
	// them.
	notCalled map[string]string
}

var (
	lambdaLogs = map[string]string{
		"logs:CreateLogStream": "Lambda writes the function's logs to its log group",
		"logs:PutLogEvents":    "Lambda writes the function's logs to its log group",
	}
	// https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html
	lambdaVPC = map[string]string{
		"ec2:CreateNetworkInterface":     "Lambda attaches the function to the VPC",
		"ec2:DescribeNetworkInterfaces":  "Lambda attaches the function to the VPC",
		"ec2:DeleteNetworkInterface":     "Lambda attaches the function to the VPC",
		"ec2:AssignPrivateIpAddresses":   "Lambda attaches the function to the VPC",
		"ec2:UnassignPrivateIpAddresses": "Lambda attaches the function to the VPC",
	}
	// https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html
	mskEventSource = map[string]string{
		"kafka:DescribeClusterV2":                           "the MSK event source mapping finds the cluster",
		"kafka:GetBootstrapBrokers":                         "the MSK event source mapping finds the brokers",
		"ec2:DescribeVpcs":                                  "the MSK event source mapping reaches the cluster's VPC",
		"ec2:DescribeSubnets":                               "the MSK event source mapping reaches the cluster's VPC",
		"ec2:DescribeSecurityGroups":                        "the MSK event source mapping reaches the cluster's VPC",
		"kafka-cluster:Connect":                             "the mapping reads with IAM access control",
		"kafka-cluster:DescribeClusterDynamicConfiguration": "the mapping reads with IAM access control",
		"kafka-cluster:DescribeTopic":                       "the mapping reads with IAM access control",
		"kafka-cluster:ReadData":                            "the mapping reads with IAM access control",
		"kafka-cluster:DescribeGroup":                       "the mapping commits in its consumer group",
		"kafka-cluster:AlterGroup":                          "the mapping commits in its consumer group",
	}
	// https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html
	firehoseDelivery = map[string]string{
		"s3:AbortMultipartUpload":         "Firehose writes objects to the lake",
		"s3:GetBucketLocation":            "Firehose writes objects to the lake",
		"s3:GetObject":                    "Firehose writes objects to the lake",
		"s3:ListBucket":                   "Firehose writes objects to the lake",
		"s3:ListBucketMultipartUploads":   "Firehose writes objects to the lake",
		"s3:PutObject":                    "Firehose writes objects to the lake",
		"kms:GenerateDataKey":             "the lake bucket is encrypted with LakeKey",
		"kms:Decrypt":                     "the lake bucket is encrypted with LakeKey",
		"lambda:InvokeFunction":           "Firehose calls the transform function",
		"lambda:GetFunctionConfiguration": "Firehose calls the transform function",
		"glue:GetTable":                   "record format conversion reads the table schema",
		"glue:GetTableVersion":            "record format conversion reads the table schema",
		"glue:GetTableVersions":           "record format conversion reads the table schema",
		"logs:PutLogEvents":               "Firehose logs delivery errors",
	}
	// https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html
	firehoseReadsMSK = map[string]string{
		"kafka:GetBootstrapBrokers":                       "Firehose reads the MSK cluster",
		"kafka:DescribeCluster":                           "Firehose reads the MSK cluster",
		"kafka:DescribeClusterV2":                         "Firehose reads the MSK cluster",
		"kafka-cluster:Connect":                           "Firehose reads with IAM access control",
		"kafka-cluster:DescribeTopic":                     "Firehose reads with IAM access control",
		"kafka-cluster:DescribeTopicDynamicConfiguration": "Firehose reads with IAM access control",
		"kafka-cluster:ReadData":                          "Firehose reads with IAM access control",
		"kafka-cluster:DescribeGroup":                     "Firehose reads with IAM access control",
	}
	// https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control-use-cases.html
	tallyPublishesWithIAM = map[string]string{
		"kafka-cluster:Connect":               "the tally's Kafka client signs in with AWS_MSK_IAM",
		"kafka-cluster:DescribeTopic":         "the tally's Kafka client writes AggregatedVotesTopic",
		"kafka-cluster:WriteData":             "the tally's Kafka client writes AggregatedVotesTopic",
		"kafka-cluster:WriteDataIdempotently": "the tally's franz-go producer is idempotent",
	}
	// https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html
	tallyReadsSCRAMSecret = map[string]string{
		"kms:Decrypt": "Secrets Manager decrypts the SCRAM secret with its customer managed key",
	}
)

// tallyPrincipal is the tally function's role for the TallyKafkaSecurity
// value security.
func tallyPrincipal(security string) principal {
	p := principal{role: "TallyFunctionRole", packages: []string{"./functions/tally/bootstrap", "./internal/dbauth"}, platform: merge(lambdaLogs, lambdaVPC, mskEventSource)}
	switch security {
	case "iam":
		p.platform = merge(p.platform, tallyPublishesWithIAM)
	case "scram":
		p.platform = merge(p.platform, tallyReadsSCRAMSecret)
	}
	return p
}

func principals(values map[string]string) []principal {
	ps := []principal{
		{role: "TransformFunctionRole", packages: []string{"./functions/transform/bootstrap", "./internal/dbauth"}, platform: merge(lambdaLogs, lambdaVPC)},
		tallyPrincipal(values["TallyKafkaSecurity"]),
	}
	if values["SourceMode"] == "bridge" {
		ps = append(ps,
			principal{role: "BridgeInstanceRole", packages: []string{"./bridge"}, files: []string{"cmd/votestream/bridge.go"},
				platform: map[string]string{
					"s3:GetObject":                        "the user data downloads the bridge artifact",
					"kafka-cluster:Connect":               "the bridge's Kafka client signs in with AWS_MSK_IAM",
					"kafka-cluster:DescribeTopic":         "the bridge reads VotesTopic and writes DeadLetterTopic",
					"kafka-cluster:ReadData":              "the bridge reads VotesTopic",
					"kafka-cluster:WriteData":             "the bridge writes rejects to DeadLetterTopic",
					"kafka-cluster:WriteDataIdempotently": "the bridge's franz-go producer of rejects is idempotent",
					"kafka-cluster:DescribeGroup":         "the bridge consumes in its consumer group",
					"kafka-cluster:AlterGroup":            "the bridge commits offsets in its consumer group",
				}},
			principal{role: "FirehoseRole", platform: firehoseDelivery})
	} else {
		ps = append(ps, principal{role: "FirehoseRole", platform: merge(firehoseDelivery, firehoseReadsMSK)})
	}
	return ps
}

// actionsWithoutResources may use Resource "*": EC2 does not scope them to
// a resource (Service Authorization Reference, Amazon EC2).
var actionsWithoutResources = map[string]bool{
	"ec2:CreateNetworkInterface": true, "ec2:DescribeNetworkInterfaces": true, "ec2:DeleteNetworkInterface": true,
	"ec2:AssignPrivateIpAddresses": true, "ec2:UnassignPrivateIpAddresses": true,
	"ec2:DescribeVpcs": true, "ec2:DescribeSubnets": true, "ec2:DescribeSecurityGroups": true,
}

func TestRolesAllowExactlyTheCallsMade(t *testing.T) {
	tmpl, raw := load(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			spec, _, _ := specialized(t, tmpl, raw, m.values)
			grants, err := RoleGrants(spec)
			if err != nil {
				t.Fatal(err)
			}
			checked := map[string]bool{}
			for _, p := range principals(m.values) {
				checked[p.role] = true
				roleGrants, ok := grants[p.role]
				if !ok {
					t.Errorf("role %s is not in the template", p.role)
					continue
				}
				calls, err := SDKCalls(repoRoot, p.packages, p.files)
				if err != nil {
					t.Fatalf("%s: %v", p.role, err)
				}
				want := map[string]bool{}
				for _, c := range calls {
					if _, skip := p.notCalled[c]; !skip {
						want[c] = true
					}
				}
				for c := range p.notCalled {
					if !slices.Contains(calls, c) {
						t.Errorf("%s: notCalled lists %s, but the code does not call it; remove the entry", p.role, c)
					}
				}
				for a := range p.platform {
					want[a] = true
				}
				got := map[string]bool{}
				for _, g := range roleGrants {
					got[g.Action] = true
					if strings.Contains(g.Action, "*") {
						t.Errorf("%s allows the wildcard action %s", p.role, g.Action)
					}
					if slices.Contains(g.Resources, any("*")) && !actionsWithoutResources[g.Action] {
						t.Errorf("%s allows %s on every resource", p.role, g.Action)
					}
				}
				for a := range want {
					if !got[a] {
						t.Errorf("%s does not allow %s, which its code or AWS on its behalf calls", p.role, a)
					}
				}
				for a := range got {
					if !want[a] {
						t.Errorf("%s allows %s, which neither its code nor AWS on its behalf calls", p.role, a)
					}
				}
			}
			for role := range grants {
				if !checked[role] {
					t.Errorf("role %s has no entry in principals: list the code that runs under it", role)
				}
			}
		})
	}
}

// SDKCalls must see a real call, or the role check passes on nothing.
func TestSDKCallsFindsBridgePut(t *testing.T) {
	calls, err := SDKCalls(repoRoot, []string{"./bridge"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(calls, "firehose:PutRecordBatch") {
		t.Errorf("SDKCalls(./bridge) = %v, want firehose:PutRecordBatch among them", calls)
	}
}

// sam build with BuildMethod go1.x runs go build in each function's CodeUri
// and expects a binary named bootstrap for the function's architecture.
func TestFunctionsBuildBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles each function")
	}
	tmpl, raw := load(t)
	spec, params, types := specialized(t, tmpl, raw, modes[0].values)
	typed, err := Typed(spec, params, types)
	if err != nil {
		t.Fatal(err)
	}
	functions := typed.GetAllServerlessFunctionResources()
	if len(functions) == 0 {
		t.Fatal("no AWS::Serverless::Function in the template")
	}
	names := make([]string, 0, len(functions))
	for id := range functions {
		names = append(names, id)
	}
	sort.Strings(names)
	for _, id := range names {
		fn := functions[id]
		t.Run(id, func(t *testing.T) {
			checkFunction(t, id, fn, tmpl.Resources[id])
		})
	}
}

func checkFunction(t *testing.T, id string, fn *serverless.Function, raw Resource) {
	if deref(fn.Runtime) != "provided.al2023" || !slices.Equal(fn.Architectures, []string{"arm64"}) || deref(fn.Handler) != "bootstrap" {
		t.Errorf("%s: Runtime %s, Architectures %v, Handler %s; want provided.al2023, [arm64], bootstrap", id, deref(fn.Runtime), fn.Architectures, deref(fn.Handler))
	}
	meta, _ := raw.Metadata["BuildMethod"].(string)
	if meta != "go1.x" {
		t.Errorf("%s: Metadata.BuildMethod = %q, want go1.x", id, meta)
	}
	if fn.CodeUri == nil || fn.CodeUri.String == nil {
		t.Fatalf("%s: CodeUri is not a local directory", id)
	}
	dir := filepath.Join(repoRoot, *fn.CodeUri.String)
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: go build in %s for linux/arm64: %v\n%s", id, *fn.CodeUri.String, err, output)
	}
	header := make([]byte, 20)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read(header); err != nil {
		t.Fatal(err)
	}
	// An ELF file starts with 0x7f "ELF"; e_machine 183 (0xb7) is AArch64.
	if string(header[:4]) != "\x7fELF" || header[18] != 0xb7 {
		t.Errorf("%s: bootstrap is not a linux/arm64 ELF binary (header % x)", id, header)
	}
}

// The QuickSight nested stack receives exactly the parameters its template
// declares, and every parameter without a default.
func TestQuickSightStackParameters(t *testing.T) {
	tmpl, _ := load(t)
	app := tmpl.Resources["QuickSightStack"]
	location, _ := app.Properties["Location"].(string)
	data, err := os.ReadFile(filepath.Join(repoRoot, location))
	if err != nil {
		t.Fatalf("nested stack template: %v", err)
	}
	var nested struct {
		Parameters map[string]map[string]any `yaml:"Parameters"`
	}
	if err := yaml.Unmarshal(data, &nested); err != nil {
		t.Fatalf("%s: %v", location, err)
	}
	passed, _ := app.Properties["Parameters"].(map[string]any)
	for name := range passed {
		if _, ok := nested.Parameters[name]; !ok {
			t.Errorf("QuickSightStack passes %s, which %s does not declare", name, location)
		}
	}
	for name, p := range nested.Parameters {
		if _, hasDefault := p["Default"]; !hasDefault && passed[name] == nil {
			t.Errorf("%s requires %s, which QuickSightStack does not pass", location, name)
		}
	}
}

func partitionKeyNames() []string {
	var names []string
	for _, k := range lake.PartitionKeys {
		names = append(names, k.Name)
	}
	return names
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

func merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
