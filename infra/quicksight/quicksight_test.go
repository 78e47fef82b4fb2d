package quicksight_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/infra/quicksight"
)

// pendingViews are views that the datasets read but glue.Views does not
// define yet. Remove a name once glue.Views defines it.
var pendingViews = []string{}

// requiredViews are the views the analysis must have a dataset for: the
// dashboard's panels, one view each.
var requiredViews = []string{
	"valid_votes", "results_by_candidate", "results_by_party", "results_by_region",
	"turnout_by_region", "votes_by_age_band", "votes_over_time", "rejected_votes",
}

// parseTemplate decodes the template into plain Go values, turning a
// short-form tag such as !GetAtt X.Arn into its long form {"Fn::GetAtt": "X.Arn"}.
func parseTemplate(t *testing.T) map[string]any {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(quicksight.Template, &doc); err != nil {
		t.Fatalf("parse quicksight.yaml: %v", err)
	}
	root, ok := plain(doc.Content[0]).(map[string]any)
	if !ok {
		t.Fatal("quicksight.yaml is not a mapping")
	}
	return root
}

func plain(n *yaml.Node) any {
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = plain(n.Content[i+1])
		}
		v = m
	case yaml.SequenceNode:
		list := []any{}
		for _, item := range n.Content {
			list = append(list, plain(item))
		}
		v = list
	case yaml.AliasNode:
		return plain(n.Alias)
	default:
		v = n.Value
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		name := strings.TrimPrefix(n.Tag, "!")
		if name == "Ref" {
			return map[string]any{"Ref": v}
		}
		return map[string]any{"Fn::" + name: v}
	}
	return v
}

// get walks a path of mapping keys and returns nil where the path ends early.
func get(v any, path ...string) any {
	for _, key := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

func resourcesOfType(root map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	resources, _ := root["Resources"].(map[string]any)
	for id, r := range resources {
		if get(r, "Type") == typ {
			props, _ := get(r, "Properties").(map[string]any)
			out[id] = props
		}
	}
	return out
}

// dataSet is what the test reads from one AWS::QuickSight::DataSet.
type dataSet struct {
	logicalID string
	view      string
	columns   []string
}

var viewReference = regexp.MustCompile(`(?i)\bFROM\s+"\$\{GlueDatabase\}"\."([a-z0-9_]+)"`)
var anyFrom = regexp.MustCompile(`(?i)\b(FROM|JOIN)\s+`)

func readDataSets(t *testing.T, root map[string]any) []dataSet {
	t.Helper()
	var sets []dataSet
	for id, props := range resourcesOfType(root, "AWS::QuickSight::DataSet") {
		tables, _ := props["PhysicalTableMap"].(map[string]any)
		if len(tables) != 1 {
			t.Errorf("%s: %d physical tables, want 1 custom SQL table", id, len(tables))
			continue
		}
		for _, table := range tables {
			sql, ok := get(table, "CustomSql", "SqlQuery", "Fn::Sub").(string)
			if !ok {
				t.Errorf("%s: SqlQuery is not a !Sub string, so it cannot name the database parameter", id)
				continue
			}
			refs := viewReference.FindAllStringSubmatch(sql, -1)
			if len(refs) != 1 || len(anyFrom.FindAllString(sql, -1)) != 1 {
				t.Errorf("%s: SQL %q must read exactly one view, as FROM \"${GlueDatabase}\".\"VIEW\"", id, sql)
				continue
			}
			set := dataSet{logicalID: id, view: refs[0][1]}
			columns, _ := get(table, "CustomSql", "Columns").([]any)
			for _, c := range columns {
				name, _ := get(c, "Name").(string)
				set.columns = append(set.columns, name)
				if !strings.Contains(sql, name) {
					t.Errorf("%s: column %s is not selected by %q", id, name, sql)
				}
			}
			if get(table, "CustomSql", "DataSourceArn", "Fn::GetAtt") != "AthenaDataSource.Arn" {
				t.Errorf("%s: DataSourceArn is not !GetAtt AthenaDataSource.Arn", id)
			}
			sets = append(sets, set)
		}
	}
	return sets
}

func TestTemplateParameters(t *testing.T) {
	root := parseTemplate(t)
	params, _ := root["Parameters"].(map[string]any)
	for _, name := range []string{"AthenaWorkGroup", "GlueDatabase", "QuickSightPrincipalArn"} {
		if _, ok := params[name]; !ok {
			t.Errorf("parameter %s is missing", name)
		}
	}
	if got := get(params, "GlueDatabase", "Default"); got != glue.Database {
		t.Errorf("GlueDatabase default = %v, want %s as glue.Database", got, glue.Database)
	}

	sources := resourcesOfType(root, "AWS::QuickSight::DataSource")
	source, ok := sources["AthenaDataSource"]
	if !ok || len(sources) != 1 {
		t.Fatalf("data sources = %v, want only AthenaDataSource", sources)
	}
	if source["Type"] != "ATHENA" {
		t.Errorf("AthenaDataSource Type = %v, want ATHENA", source["Type"])
	}
	if got := get(source, "DataSourceParameters", "AthenaParameters", "WorkGroup", "Ref"); got != "AthenaWorkGroup" {
		t.Errorf("WorkGroup = %v, want !Ref AthenaWorkGroup", got)
	}
}

func TestDataSetsReadDefinedViews(t *testing.T) {
	root := parseTemplate(t)
	defined := map[string]bool{}
	for _, v := range glue.Views {
		defined[v.Name] = true
	}
	for _, name := range pendingViews {
		if defined[name] {
			t.Errorf("view %s is now in glue.Views: remove it from pendingViews", name)
		}
		defined[name] = true
	}

	sets := readDataSets(t, root)
	read := map[string]bool{}
	for _, set := range sets {
		read[set.view] = true
		if !defined[set.view] {
			t.Errorf("%s reads view %s, which glue.Views does not define", set.logicalID, set.view)
		}
	}
	for _, view := range requiredViews {
		if !read[view] {
			t.Errorf("no dataset reads view %s", view)
		}
	}
}

func TestAnalysisUsesDeclaredColumns(t *testing.T) {
	root := parseTemplate(t)
	columnsByLogicalID := map[string][]string{}
	for _, set := range readDataSets(t, root) {
		columnsByLogicalID[set.logicalID] = set.columns
	}

	analyses := resourcesOfType(root, "AWS::QuickSight::Analysis")
	if len(analyses) != 1 {
		t.Fatalf("%d analyses, want 1", len(analyses))
	}
	for id, props := range analyses {
		columnsByIdentifier := map[string][]string{}
		declarations, _ := get(props, "Definition", "DataSetIdentifierDeclarations").([]any)
		for _, d := range declarations {
			identifier, _ := get(d, "Identifier").(string)
			arn, _ := get(d, "DataSetArn", "Fn::GetAtt").(string)
			logicalID, _, _ := strings.Cut(arn, ".")
			columns, ok := columnsByLogicalID[logicalID]
			if !ok {
				t.Errorf("%s: identifier %s points at %q, which is no dataset of this template", id, identifier, arn)
			}
			columnsByIdentifier[identifier] = columns
		}

		var used []string
		visit(props["Definition"], func(m map[string]any) {
			column, ok := m["Column"].(map[string]any)
			if !ok {
				return
			}
			identifier, _ := column["DataSetIdentifier"].(string)
			name, _ := column["ColumnName"].(string)
			used = append(used, fmt.Sprintf("%s.%s", identifier, name))
			columns, declared := columnsByIdentifier[identifier]
			if !declared {
				t.Errorf("%s: a visual uses undeclared dataset identifier %q", id, identifier)
				return
			}
			if !slices.Contains(columns, name) {
				t.Errorf("%s: a visual uses column %s, which dataset %s does not have (%v)", id, name, identifier, columns)
			}
		})
		if len(used) < 10 {
			t.Errorf("%s: visuals use %d columns (%v), want the dashboard's visuals", id, len(used), used)
		}

		visuals, _ := get(props, "Definition", "Sheets").([]any)
		kinds := map[string]int{}
		for _, sheet := range visuals {
			list, _ := get(sheet, "Visuals").([]any)
			for _, v := range list {
				for kind := range v.(map[string]any) {
					kinds[kind]++
				}
			}
		}
		for _, kind := range []string{"KPIVisual", "BarChartVisual", "LineChartVisual", "TableVisual"} {
			if kinds[kind] == 0 {
				t.Errorf("%s: no %s among the visuals %v", id, kind, kinds)
			}
		}
	}
}

// visit calls fn for every mapping in v, depth first.
func visit(v any, fn func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		fn(v)
		for _, child := range v {
			visit(child, fn)
		}
	case []any:
		for _, child := range v {
			visit(child, fn)
		}
	}
}
