// Package samcheck checks sam-template.yaml without an AWS account: it reads
// the template with goformation's typed resources, resolves every reference,
// evaluates the template's conditions for a set of parameter values, and
// lists the IAM actions that each role allows and that each binary's code
// calls. The checks themselves are the package's tests.
package samcheck

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// Template is a SAM or CloudFormation template in long form: short tags such
// as !Ref are rewritten to {"Ref": ...}, and nothing is evaluated.
type Template struct {
	Parameters map[string]map[string]any
	Conditions map[string]any
	Resources  map[string]Resource
	Outputs    map[string]map[string]any
}

// Resource is one entry of the Resources section.
type Resource struct {
	Type       string
	Condition  string
	DependsOn  any
	Metadata   map[string]any
	Properties map[string]any
}

// PseudoParameters are the names that Ref accepts without a declaration.
var PseudoParameters = map[string]bool{
	"AWS::AccountId": true, "AWS::NotificationARNs": true, "AWS::NoValue": true, "AWS::Partition": true,
	"AWS::Region": true, "AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true,
}

// Load reads a template file into its long form.
func Load(path string) (*Template, map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read template: %w", err)
	}
	longForm, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, nil, fmt.Errorf("parse template %s: %w", path, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(longForm, &raw); err != nil {
		return nil, nil, fmt.Errorf("parse template %s: %w", path, err)
	}
	var t Template
	if err := json.Unmarshal(longForm, &t); err != nil {
		return nil, nil, fmt.Errorf("parse template %s: %w", path, err)
	}
	return &t, raw, nil
}

// ParameterValues returns each parameter's Default, overridden by values.
func (t *Template) ParameterValues(values map[string]string) map[string]any {
	out := map[string]any{}
	for name, p := range t.Parameters {
		if def, ok := p["Default"]; ok {
			out[name] = def
		}
	}
	for name, v := range values {
		out[name] = v
	}
	return out
}

// EvaluateConditions returns the value of each condition for the parameter
// values. It knows Fn::Equals, Fn::Not, Fn::And, Fn::Or and Condition.
func (t *Template) EvaluateConditions(params map[string]any) (map[string]bool, error) {
	out := map[string]bool{}
	var eval func(v any, depth int) (bool, error)
	var scalar func(v any) (string, error)
	scalar = func(v any) (string, error) {
		switch v := v.(type) {
		case string:
			return v, nil
		case float64, bool:
			return fmt.Sprint(v), nil
		case map[string]any:
			if name, ok := v["Ref"].(string); ok {
				value, ok := params[name]
				if !ok {
					return "", fmt.Errorf("Ref %s: parameter has no value", name)
				}
				return fmt.Sprint(value), nil
			}
		}
		return "", fmt.Errorf("cannot evaluate %v in a condition", v)
	}
	eval = func(v any, depth int) (bool, error) {
		if depth > 20 {
			return false, fmt.Errorf("conditions nest too deep or form a cycle")
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return false, fmt.Errorf("condition %v is not one function", v)
		}
		for fn, arg := range m {
			args, _ := arg.([]any)
			switch fn {
			case "Condition":
				name, _ := arg.(string)
				def, ok := t.Conditions[name]
				if !ok {
					return false, fmt.Errorf("condition %q is not defined", name)
				}
				return eval(def, depth+1)
			case "Fn::Equals":
				if len(args) != 2 {
					return false, fmt.Errorf("Fn::Equals takes two values")
				}
				a, err := scalar(args[0])
				if err != nil {
					return false, err
				}
				b, err := scalar(args[1])
				if err != nil {
					return false, err
				}
				return a == b, nil
			case "Fn::Not":
				if len(args) != 1 {
					return false, fmt.Errorf("Fn::Not takes one condition")
				}
				b, err := eval(args[0], depth+1)
				return !b, err
			case "Fn::And", "Fn::Or":
				result := fn == "Fn::And"
				for _, a := range args {
					b, err := eval(a, depth+1)
					if err != nil {
						return false, err
					}
					if fn == "Fn::And" {
						result = result && b
					} else {
						result = result || b
					}
				}
				return result, nil
			}
			return false, fmt.Errorf("function %s is not allowed in a condition", fn)
		}
		return false, nil
	}
	for name, def := range t.Conditions {
		b, err := eval(def, 0)
		if err != nil {
			return nil, fmt.Errorf("condition %s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

// Specialize returns the raw template as CloudFormation would see it for
// the given condition values: Fn::If replaced by its chosen branch,
// AWS::NoValue removed, and conditional resources and outputs dropped when
// their condition is false.
func Specialize(raw map[string]any, conditions map[string]bool) map[string]any {
	out := specialize(raw, conditions).(map[string]any)
	for _, section := range []string{"Resources", "Outputs"} {
		entries, _ := out[section].(map[string]any)
		for id, e := range entries {
			m, _ := e.(map[string]any)
			if c, ok := m["Condition"].(string); ok && !conditions[c] {
				delete(entries, id)
			}
		}
	}
	return out
}

func isNoValue(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 1 && m["Ref"] == "AWS::NoValue"
}

func specialize(v any, conditions map[string]bool) any {
	switch v := v.(type) {
	case map[string]any:
		if args, ok := v["Fn::If"].([]any); ok && len(v) == 1 && len(args) == 3 {
			name, _ := args[0].(string)
			if conditions[name] {
				return specialize(args[1], conditions)
			}
			return specialize(args[2], conditions)
		}
		out := map[string]any{}
		for k, item := range v {
			s := specialize(item, conditions)
			if !isNoValue(s) {
				out[k] = s
			}
		}
		return out
	case []any:
		out := []any{}
		for _, item := range v {
			s := specialize(item, conditions)
			if !isNoValue(s) {
				out = append(out, s)
			}
		}
		return out
	}
	return v
}

// Typed unmarshals a specialized template into goformation's typed
// resources, which rejects unknown resource types and unknown or mistyped
// properties. Intrinsic functions become sample values of the right shape
// first: a Ref to a parameter becomes the parameter's value (a list for
// List<...> types, a number for Number), any other function a string.
func Typed(specialized map[string]any, params map[string]any, paramTypes map[string]string) (*cloudformation.Template, error) {
	sampled := sample(specialized, params, paramTypes).(map[string]any)
	resources, _ := sampled["Resources"].(map[string]any)
	all := cloudformation.AllResources()
	for id, r := range resources {
		rm, _ := r.(map[string]any)
		typeName, _ := rm["Type"].(string)
		target, ok := all[typeName]
		if !ok {
			return nil, fmt.Errorf("resource %s: goformation does not know the type %q", id, typeName)
		}
		if props, ok := rm["Properties"]; ok {
			rm["Properties"] = coerceFields(props, reflect.TypeOf(target).Elem())
		}
	}
	data, err := json.Marshal(sampled)
	if err != nil {
		return nil, err
	}
	var t cloudformation.Template
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

func sample(v any, params map[string]any, paramTypes map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for fn, arg := range v {
				switch fn {
				case "Ref":
					name, _ := arg.(string)
					typ, isParam := paramTypes[name]
					if !isParam {
						return "sample-" + name
					}
					value := fmt.Sprint(params[name])
					switch {
					case strings.HasPrefix(typ, "List<") || typ == "CommaDelimitedList":
						return []any{"sample-" + name}
					case typ == "Number":
						var n float64
						if _, err := fmt.Sscan(value, &n); err != nil {
							n = 1
						}
						return n
					}
					return value
				case "Fn::Split", "Fn::GetAZs":
					return []any{"sample"}
				case "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Base64", "Fn::ImportValue", "Fn::FindInMap":
					return "sample"
				}
			}
		}
		out := map[string]any{}
		for k, item := range v {
			out[k] = sample(item, params, paramTypes)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = sample(item, params, paramTypes)
		}
		return out
	}
	return v
}

// coerce converts sample values to the Go types of goformation's resource
// structs: CloudFormation passes a Number parameter as a string, and goformation
// types some numeric properties as int and others as string.
func coerce(v any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return v
	}
	return coerceFields(v, t)
}

// coerceFields is coerce without the check for a custom UnmarshalJSON, which
// every resource struct has.
func coerceFields(v any, t reflect.Type) any {
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := map[string]any{}
		for k, item := range m {
			out[k] = item
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if item, ok := m[name]; ok && name != "" && name != "-" {
				out[name] = coerce(item, f.Type)
			}
		}
		return out
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := map[string]any{}
		for k, item := range m {
			out[k] = coerce(item, t.Elem())
		}
		return out
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			return v
		}
		out := make([]any, len(list))
		for i, item := range list {
			out[i] = coerce(item, t.Elem())
		}
		return out
	case reflect.String:
		switch x := v.(type) {
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			return strconv.FormatBool(x)
		}
	case reflect.Int, reflect.Int64, reflect.Float64:
		if s, ok := v.(string); ok {
			if n, err := strconv.ParseFloat(s, 64); err == nil {
				return n
			}
			return 1.0
		}
	}
	return v
}
