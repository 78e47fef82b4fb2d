package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/athena"

	"github.com/votestream/votestream"
	"github.com/votestream/votestream/firehose"
	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/glue/lake"
	"github.com/votestream/votestream/glue/query"
)

func init() {
	register("query", "print a view of the lake, or the result of SQL, from the local lake or Athena", runQuery)
}

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("query", "query [flags] VIEW|SQL\n\nVIEW is one of "+strings.Join(query.Names(), ", ")+
		";\na single word must name one of them; text with spaces runs as SQL (Trino SQL on Athena, DuckDB SQL locally)", stderr)
	stateDir := fs.String("state-dir", envOr("VOTESTREAM_STATE_DIR", ".votestream"),
		"state directory of votestream demo; the local lake is STATE/lake/BUCKET [VOTESTREAM_STATE_DIR]")
	templatePath := fs.String("template", envOr("VOTESTREAM_TEMPLATE", ""),
		"sam-template.yaml whose delivery stream names the lake bucket; empty uses the template built into this binary [VOTESTREAM_TEMPLATE]")
	electionID := fs.String("election", envOr("VOTESTREAM_ELECTION_ID", ""),
		"election id to filter a view by, such as us-vt-pres-2024; empty prints every election (required with --athena) [VOTESTREAM_ELECTION_ID]")
	formatName := fs.String("format", "table", "output format: table, csv or json")
	limit := fs.Int("limit", 0, "largest number of rows to print; 0 prints all")
	useAthena := fs.Bool("athena", false, "run on Amazon Athena instead of the local lake")
	workGroup := fs.String("workgroup", envOr("VOTESTREAM_ATHENA_WORKGROUP", "votestream"), "Athena workgroup, with --athena [VOTESTREAM_ATHENA_WORKGROUP]")
	database := fs.String("database", envOr("VOTESTREAM_GLUE_DATABASE", glue.Database), "Glue database of the lake tables, with --athena [VOTESTREAM_GLUE_DATABASE]")
	region := fs.String("region", envOr("AWS_REGION", ""), "AWS Region of Athena, with --athena [AWS_REGION]")
	endpoint := fs.String("endpoint", envOr("VOTESTREAM_ATHENA_ENDPOINT", ""), "Athena endpoint URL; empty uses the Region's endpoint [VOTESTREAM_ATHENA_ENDPOINT]")
	outputLocation := fs.String("output-location", envOr("VOTESTREAM_ATHENA_OUTPUT", ""),
		"s3:// prefix for Athena's result files; empty uses the workgroup's [VOTESTREAM_ATHENA_OUTPUT]")
	timeout := fs.Duration("timeout", 10*time.Minute, "longest time an Athena query may take from start to the last page; it is stopped after that")
	logLevel := fs.String("log-level", envOr("VOTESTREAM_LOG_LEVEL", "warn"), "least severe log level written to stderr: debug, info, warn or error [VOTESTREAM_LOG_LEVEL]")
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	if fs.NArg() == 0 {
		return usagef("missing VIEW or SQL: use one of %s, or a SELECT statement in quotes", strings.Join(query.Names(), ", "))
	}
	format, err := query.ParseFormat(*formatName)
	if err != nil {
		return usagef("--format: %v", err)
	}
	stmt, err := query.Build(strings.Join(fs.Args(), " "), *electionID, *limit)
	if err != nil {
		return usagef("%v", err)
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}

	var result *query.Result
	if *useAthena {
		if stmt.View != "" && *electionID == "" {
			return usagef("--election is required for a view on Athena: the votes table's election_id partition uses injected projection, which rejects a query without an election_id filter")
		}
		if *region == "" {
			return usagef("--region (or AWS_REGION) is required with --athena")
		}
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(*region))
		if err != nil {
			return setupError{fmt.Errorf("load AWS configuration: %w", err)}
		}
		client := athena.NewFromConfig(cfg, func(o *athena.Options) {
			if *endpoint != "" {
				o.BaseEndpoint = aws.String(*endpoint)
			}
		})
		result, err = query.RunAthena(ctx, client, query.AthenaOptions{
			WorkGroup:      *workGroup,
			Database:       *database,
			OutputLocation: *outputLocation,
			Timeout:        *timeout,
			Logger:         logger,
		}, stmt)
		if err != nil {
			return err
		}
	} else {
		result, err = runLocalQuery(ctx, *stateDir, *templatePath, stmt)
		if err != nil {
			return err
		}
	}

	if err := query.Write(stdout, result, format); err != nil {
		return fmt.Errorf("print result: %w", err)
	}
	if result.Truncated && format != query.FormatTable {
		fmt.Fprintf(stderr, "votestream query: printed the first %d rows; raise --limit to see more\n", len(result.Rows))
	}
	return nil
}

// runLocalQuery runs stmt on the lake of a demo state directory. The lake's
// bucket directory is named for the bucket of the template's delivery stream,
// as in votestream demo.
func runLocalQuery(ctx context.Context, stateDir, templatePath string, stmt query.Statement) (*query.Result, error) {
	var tmpl *firehose.Template
	var err error
	if templatePath == "" {
		tmpl, err = firehose.ParseTemplate(votestream.SAMTemplate)
	} else {
		tmpl, err = firehose.LoadTemplate(templatePath)
	}
	if err != nil {
		return nil, setupError{err}
	}
	if len(tmpl.Streams) == 0 {
		return nil, setupError{errors.New("the template defines no delivery stream, so the lake bucket is unknown")}
	}
	bucketDir := filepath.Join(stateDir, "lake", tmpl.Streams[0].Bucket)

	l, err := lake.Open(ctx, bucketDir)
	if errors.Is(err, lake.ErrEmpty) {
		if _, statErr := os.Stat(stateDir); statErr != nil {
			return nil, setupError{fmt.Errorf("state directory %s not found: run 'votestream demo --state-dir %s' first, or pass the demo's --state-dir", stateDir, stateDir)}
		}
		return nil, setupError{fmt.Errorf("the lake %s contains no Parquet files: run 'votestream demo --state-dir %s' first", lake.VotesDir(bucketDir), stateDir)}
	}
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return query.RunLocal(ctx, l.DB(), stmt)
}
