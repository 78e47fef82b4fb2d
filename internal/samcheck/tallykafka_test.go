package samcheck

import (
	"maps"
	"reflect"
	"strings"
	"testing"
)

// mskResource is the Fn::Sub of an MSK topic ARN in the template: the
// cluster name and UUID are the last two parts of MSKClusterArn.
func mskResource(kind, name string) any {
	part := func(i float64) any {
		return map[string]any{"Fn::Select": []any{i, map[string]any{"Fn::Split": []any{"/", map[string]any{"Ref": "MSKClusterArn"}}}}}
	}
	return map[string]any{"Fn::Sub": []any{
		"arn:${AWS::Partition}:kafka:${AWS::Region}:${AWS::AccountId}:" + kind + "/${ClusterName}/${ClusterUUID}/" + name,
		map[string]any{"ClusterName": part(1), "ClusterUUID": part(2)},
	}}
}

func ref(name string) any { return map[string]any{"Ref": name} }

// TestTallyKafkaGrantsNameTheirResources checks the resources behind the
// actions that TestRolesAllowExactlyTheCallsMade counts: each mode of
// TallyKafkaSecurity allows exactly these grants of these actions.
func TestTallyKafkaGrantsNameTheirResources(t *testing.T) {
	tmpl, raw := load(t)
	aggregatesTopic := mskResource("topic", "${AggregatedVotesTopic}")
	votesTopic := mskResource("topic", "${VotesTopic}")
	// Every mode reads the database login; scram also reads the Kafka user.
	databaseSecret := Grant{Action: "secretsmanager:GetSecretValue", Resources: []any{ref("DatabaseSecretArn")}}
	tests := map[string]map[string][]Grant{
		"iam": {
			"kafka-cluster:WriteDataIdempotently": {{Action: "kafka-cluster:WriteDataIdempotently", Resources: []any{ref("MSKClusterArn")}}},
			"kafka-cluster:WriteData":             {{Action: "kafka-cluster:WriteData", Resources: []any{aggregatesTopic}}},
			"kafka-cluster:DescribeTopic": {
				{Action: "kafka-cluster:DescribeTopic", Resources: []any{votesTopic}},
				{Action: "kafka-cluster:DescribeTopic", Resources: []any{aggregatesTopic}},
			},
			"secretsmanager:GetSecretValue": {databaseSecret},
			"kms:Decrypt":                   nil,
		},
		"scram": {
			"kafka-cluster:WriteDataIdempotently": nil,
			"kafka-cluster:WriteData":             nil,
			"kafka-cluster:DescribeTopic":         {{Action: "kafka-cluster:DescribeTopic", Resources: []any{votesTopic}}},
			"secretsmanager:GetSecretValue":       {databaseSecret, {Action: "secretsmanager:GetSecretValue", Resources: []any{ref("TallyKafkaSecretArn")}}},
			"kms:Decrypt": {{Action: "kms:Decrypt", Resources: []any{ref("TallyKafkaSecretKeyArn")},
				Condition: map[string]any{"StringEquals": map[string]any{"kms:ViaService": map[string]any{"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}}}}},
		},
		"tls": {
			"kafka-cluster:WriteData":       nil,
			"secretsmanager:GetSecretValue": {databaseSecret},
			"kms:Decrypt":                   nil,
		},
		"plaintext": {
			"kafka-cluster:WriteData":       nil,
			"secretsmanager:GetSecretValue": {databaseSecret},
			"kms:Decrypt":                   nil,
		},
	}
	for security, wantByAction := range tests {
		t.Run(security, func(t *testing.T) {
			values := map[string]string{"SourceMode": "msk", "EnableQuickSight": "false", "TallyKafkaSecurity": security,
				"TallyKafkaSecretArn": tallySecretARN, "TallyKafkaSecretKeyArn": tallySecretKeyARN}
			spec, _, _ := specialized(t, tmpl, raw, values)
			grants, err := RoleGrants(spec)
			if err != nil {
				t.Fatal(err)
			}
			for action, want := range wantByAction {
				var got []Grant
				for _, g := range grants["TallyFunctionRole"] {
					if g.Action == action {
						got = append(got, g)
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("TallyFunctionRole grants of %s =\n%+v\nwant\n%+v", action, got, want)
				}
			}
		})
	}
}

// The function's Kafka variables follow TallyKafkaSecurity; the bootstrap's
// own tests check what each combination means.
func TestTallyKafkaEnvironment(t *testing.T) {
	tmpl, raw := load(t)
	fixed := map[string]any{
		"AGGREGATES_BROKERS": ref("TallyBootstrapBrokers"),
		"AGGREGATES_TOPIC":   ref("AggregatedVotesTopic"),
	}
	tests := map[string]map[string]any{
		"plaintext": {"KAFKA_TLS": "false"},
		"tls":       {"KAFKA_TLS": "true"},
		"scram":     {"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_SECRET_ARN": ref("TallyKafkaSecretArn")},
		"iam":       {"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "AWS_MSK_IAM"},
	}
	for security, want := range tests {
		t.Run(security, func(t *testing.T) {
			spec, _, _ := specialized(t, tmpl, raw, map[string]string{"SourceMode": "msk", "EnableQuickSight": "false", "TallyKafkaSecurity": security})
			function := spec["Resources"].(map[string]any)["TallyFunction"].(map[string]any)
			variables := function["Properties"].(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)

			got := map[string]any{}
			for name, value := range variables {
				if strings.HasPrefix(name, "AGGREGATES_") || strings.HasPrefix(name, "KAFKA_") {
					got[name] = value
				}
			}
			wantAll := maps.Clone(fixed)
			maps.Copy(wantAll, want)
			if !reflect.DeepEqual(got, wantAll) {
				t.Errorf("TallyFunction Kafka variables =\n%v\nwant\n%v", got, wantAll)
			}
		})
	}
}
