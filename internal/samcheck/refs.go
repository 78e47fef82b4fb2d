package samcheck

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Attributes lists the Fn::GetAtt attributes that CloudFormation documents
// for each resource type this template uses (AWS CloudFormation resource
// reference, "Return values" of each type). goformation does not carry them.
var Attributes = map[string][]string{
	"AWS::KMS::Key":                        {"Arn", "KeyId"},
	"AWS::S3::Bucket":                      {"Arn", "DomainName", "RegionalDomainName"},
	"AWS::IAM::Role":                       {"Arn", "RoleId"},
	"AWS::IAM::InstanceProfile":            {"Arn"},
	"AWS::EC2::LaunchTemplate":             {"DefaultVersionNumber", "LatestVersionNumber", "LaunchTemplateId"},
	"AWS::Logs::LogGroup":                  {"Arn"},
	"AWS::KinesisFirehose::DeliveryStream": {"Arn"},
	"AWS::Serverless::Function":            {"Arn"},
	"AWS::Lambda::Function":                {"Arn"},
	"AWS::Athena::WorkGroup":               {"CreationTime", "WorkGroupConfiguration.EngineVersion.EffectiveEngineVersion"},
	"AWS::Glue::Database":                  {},
	"AWS::Glue::Table":                     {},
	"AWS::Lambda::EventSourceMapping":      {"Id"},
	"AWS::AutoScaling::AutoScalingGroup":   {},
	"AWS::Serverless::Application":         {},
	"AWS::Athena::NamedQuery":              {"NamedQueryId"},
	"AWS::S3::BucketPolicy":                {},
	"AWS::Logs::LogStream":                 {},
	"AWS::CloudFormation::Stack":           {},
}

// subVariable matches ${Name} and ${Name.Attribute} in Fn::Sub, but not the
// literal ${!Name}.
var subVariable = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

// CheckReferences returns one message per reference in the template that
// would fail to deploy: a Ref, Fn::GetAtt or Fn::Sub variable that names
// nothing, a GetAtt attribute that the type does not have, an undefined
// condition, and a reference to a conditional resource from a place that
// exists without that condition.
func CheckReferences(t *Template) []string {
	var problems []string
	combos, err := conditionCombinations(t)
	if err != nil {
		return []string{err.Error()}
	}
	report := func(where, format string, args ...any) {
		problems = append(problems, where+": "+fmt.Sprintf(format, args...))
	}

	// reference checks that name is a parameter, a pseudo-parameter or a
	// resource that exists whenever the referring place does.
	reference := func(where, name string, active map[string]bool) {
		if _, ok := t.Parameters[name]; ok || PseudoParameters[name] {
			return
		}
		r, ok := t.Resources[name]
		if !ok {
			report(where, "%q is not a parameter, pseudo-parameter or resource", name)
			return
		}
		if r.Condition != "" && !implied(r.Condition, active, combos) {
			report(where, "resource %s exists only when %s is true, but this reference does not depend on %s", name, r.Condition, r.Condition)
		}
	}
	attribute := func(where, id, attr string, active map[string]bool) {
		reference(where, id, active)
		r, ok := t.Resources[id]
		if !ok {
			return
		}
		known, ok := Attributes[r.Type]
		if !ok {
			report(where, "no attribute list for type %s: add its return values to samcheck.Attributes", r.Type)
			return
		}
		for _, a := range known {
			if a == attr {
				return
			}
		}
		report(where, "%s has no attribute %q; %s has %v", id, attr, r.Type, known)
	}
	condition := func(where, name string) {
		if _, ok := t.Conditions[name]; !ok {
			report(where, "condition %q is not defined under Conditions", name)
		}
	}

	var walk func(where string, v any, active map[string]bool)
	walk = func(where string, v any, active map[string]bool) {
		switch v := v.(type) {
		case []any:
			for i, item := range v {
				walk(fmt.Sprintf("%s[%d]", where, i), item, active)
			}
		case map[string]any:
			if len(v) == 1 {
				for fn, arg := range v {
					switch fn {
					case "Ref":
						name, _ := arg.(string)
						reference(where, name, active)
						return
					case "Fn::GetAtt":
						id, attr := getAttArgs(arg)
						attribute(where, id, attr, active)
						return
					case "Fn::Sub":
						checkSub(where, arg, active, reference, attribute, func(w string, item any) { walk(w, item, active) })
						return
					case "Fn::If":
						args, _ := arg.([]any)
						if len(args) != 3 {
							report(where, "Fn::If takes [condition, then, else]")
							return
						}
						name, _ := args[0].(string)
						condition(where, name)
						then := copySet(active)
						then[name] = true
						walk(where+".Fn::If[then]", args[1], then)
						otherwise := copySet(active)
						otherwise[name] = false
						walk(where+".Fn::If[else]", args[2], otherwise)
						return
					case "Condition":
						name, _ := arg.(string)
						condition(where, name)
						return
					}
				}
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(where+"."+k, v[k], active)
			}
		}
	}

	for name, def := range t.Conditions {
		walk("Conditions."+name, def, nil)
	}
	for id, r := range t.Resources {
		active := map[string]bool{}
		if r.Condition != "" {
			condition("Resources."+id, r.Condition)
			active[r.Condition] = true
		}
		for _, dep := range dependsOn(r.DependsOn) {
			reference("Resources."+id+".DependsOn", dep, active)
		}
		walk("Resources."+id+".Properties", r.Properties, active)
	}
	for id, o := range t.Outputs {
		active := map[string]bool{}
		if c, ok := o["Condition"].(string); ok {
			condition("Outputs."+id, c)
			active[c] = true
		}
		walk("Outputs."+id+".Value", o["Value"], active)
	}
	sort.Strings(problems)
	return problems
}

func checkSub(where string, arg any, active map[string]bool,
	reference func(where, name string, active map[string]bool),
	attribute func(where, id, attr string, active map[string]bool),
	walk func(where string, v any)) {
	text, _ := arg.(string)
	local := map[string]bool{}
	if list, ok := arg.([]any); ok && len(list) == 2 {
		text, _ = list[0].(string)
		vars, _ := list[1].(map[string]any)
		for name, value := range vars {
			local[name] = true
			walk(where+".Fn::Sub."+name, value)
		}
	}
	for _, m := range subVariable.FindAllStringSubmatch(text, -1) {
		name := m[1]
		if local[name] {
			continue
		}
		if id, attr, ok := strings.Cut(name, "."); ok {
			attribute(where+" ${"+name+"}", id, attr, active)
			continue
		}
		reference(where+" ${"+name+"}", name, active)
	}
}

func getAttArgs(arg any) (id, attr string) {
	switch a := arg.(type) {
	case string:
		id, attr, _ = strings.Cut(a, ".")
	case []any:
		if len(a) == 2 {
			id, _ = a[0].(string)
			attr, _ = a[1].(string)
		}
	}
	return id, attr
}

func dependsOn(v any) []string {
	switch d := v.(type) {
	case string:
		return []string{d}
	case []any:
		var out []string
		for _, item := range d {
			if s, ok := item.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func copySet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// conditionCombinations evaluates the conditions for every combination of
// the AllowedValues of the parameters that the conditions read; a parameter
// without AllowedValues keeps its Default.
func conditionCombinations(t *Template) ([]map[string]bool, error) {
	var names []string
	for name, p := range t.Parameters {
		if _, ok := p["AllowedValues"].([]any); ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	assignments := []map[string]string{{}}
	for _, name := range names {
		var next []map[string]string
		for _, a := range assignments {
			for _, v := range t.Parameters[name]["AllowedValues"].([]any) {
				b := map[string]string{name: fmt.Sprint(v)}
				for k, x := range a {
					b[k] = x
				}
				next = append(next, b)
			}
		}
		assignments = next
	}
	var combos []map[string]bool
	for _, a := range assignments {
		c, err := t.EvaluateConditions(t.ParameterValues(a))
		if err != nil {
			return nil, err
		}
		combos = append(combos, c)
	}
	return combos, nil
}

// implied reports whether condition is true in every combination where the
// active conditions have their required values.
func implied(condition string, active map[string]bool, combos []map[string]bool) bool {
	for _, c := range combos {
		matches := true
		for name, want := range active {
			if c[name] != want {
				matches = false
				break
			}
		}
		if matches && !c[condition] {
			return false
		}
	}
	return true
}
