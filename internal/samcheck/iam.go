package samcheck

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Grant is one allowed action of a role with the resources it applies to
// and the statement's Condition, nil when it has none.
type Grant struct {
	Action    string
	Resources []any
	Condition any
}

// RoleGrants returns the Allow actions of every AWS::IAM::Role in a
// specialized template, by logical id, from its inline Policies. Roles with
// ManagedPolicyArns are reported as an error, because those policies cannot
// be checked here.
func RoleGrants(specialized map[string]any) (map[string][]Grant, error) {
	out := map[string][]Grant{}
	resources, _ := specialized["Resources"].(map[string]any)
	for id, r := range resources {
		rm, _ := r.(map[string]any)
		if rm["Type"] != "AWS::IAM::Role" {
			continue
		}
		props, _ := rm["Properties"].(map[string]any)
		if _, ok := props["ManagedPolicyArns"]; ok {
			return nil, fmt.Errorf("role %s: ManagedPolicyArns cannot be checked against the code; write the statements inline", id)
		}
		policies, _ := props["Policies"].([]any)
		var grants []Grant
		for _, p := range policies {
			doc, _ := p.(map[string]any)["PolicyDocument"].(map[string]any)
			statements, _ := doc["Statement"].([]any)
			for _, s := range statements {
				st, _ := s.(map[string]any)
				if st["Effect"] != "Allow" {
					continue
				}
				for _, action := range asList(st["Action"]) {
					name, ok := action.(string)
					if !ok {
						return nil, fmt.Errorf("role %s: an Action is not a plain string: %v", id, action)
					}
					grants = append(grants, Grant{Action: name, Resources: asList(st["Resource"]), Condition: st["Condition"]})
				}
			}
		}
		out[id] = grants
	}
	return out, nil
}

func asList(v any) []any {
	if list, ok := v.([]any); ok {
		return list
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// SDKCalls returns the IAM actions of the AWS SDK for Go v2 operations that
// the given Go files and packages (with their dependencies inside this
// module) call, such as firehose:PutRecordBatch. A call counts when a file
// imports github.com/aws/aws-sdk-go-v2/service/NAME and calls a method named
// like one of that service's operations (the api_op_*.go files of the
// package). moduleDir is the repository root.
func SDKCalls(moduleDir string, packages []string, files []string) ([]string, error) {
	modulePath, err := goList(moduleDir, "-m", "-f", "{{.Path}}")
	if err != nil {
		return nil, err
	}
	if len(packages) > 0 {
		args := append([]string{"-deps", "-f", "{{if .Module}}{{if eq .Module.Path \"" + strings.TrimSpace(modulePath) + "\"}}{{range .GoFiles}}{{$.Dir}}/{{.}}\n{{end}}{{end}}{{end}}"}, packages...)
		listed, err := goList(moduleDir, args...)
		if err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(listed) {
			files = append(files, f)
		}
	}

	operations := map[string]map[string]bool{} // service import path -> operation names
	calls := map[string]bool{}
	fset := token.NewFileSet()
	for _, path := range files {
		if !filepath.IsAbs(path) {
			path = filepath.Join(moduleDir, path)
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		var services []string
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			rest, ok := strings.CutPrefix(p, "github.com/aws/aws-sdk-go-v2/service/")
			if ok && !strings.Contains(rest, "/") {
				services = append(services, p)
			}
		}
		for _, svc := range services {
			ops, ok := operations[svc]
			if !ok {
				if ops, err = serviceOperations(moduleDir, svc); err != nil {
					return nil, err
				}
				operations[svc] = ops
			}
			prefix := iamPrefix(svc)
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && ops[sel.Sel.Name] {
					calls[prefix+":"+sel.Sel.Name] = true
				}
				return true
			})
		}
	}
	out := make([]string, 0, len(calls))
	for c := range calls {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

// iamPrefixes maps an SDK service package to its IAM service prefix where
// the two differ.
var iamPrefixes = map[string]string{
	"kafka":  "kafka",
	"sts":    "sts",
	"lambda": "lambda",
}

func iamPrefix(servicePath string) string {
	name := servicePath[strings.LastIndex(servicePath, "/")+1:]
	if p, ok := iamPrefixes[name]; ok {
		return p
	}
	return name
}

func serviceOperations(moduleDir, servicePath string) (map[string]bool, error) {
	dir, err := goList(moduleDir, "-f", "{{.Dir}}", servicePath)
	if err != nil {
		return nil, err
	}
	matches, err := filepath.Glob(filepath.Join(strings.TrimSpace(dir), "api_op_*.go"))
	if err != nil || len(matches) == 0 {
		return nil, fmt.Errorf("no api_op_*.go files for %s in %q", servicePath, dir)
	}
	ops := map[string]bool{}
	for _, m := range matches {
		ops[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), "api_op_"), ".go")] = true
	}
	return ops, nil
}

func goList(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list %v: %w: %s", args, err, stderr.String())
	}
	return string(out), nil
}
