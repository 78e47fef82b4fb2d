// Package quicksight holds the CloudFormation template of votestream's
// QuickSight resources: an Athena data source, one dataset per Athena view
// of the glue package, and an analysis with the live dashboard's visuals.
package quicksight

import _ "embed"

// Template is quicksight.yaml. sam-template.yaml deploys it as a nested
// stack; the tests check it against the views that glue.Views defines.
//
//go:embed quicksight.yaml
var Template []byte
