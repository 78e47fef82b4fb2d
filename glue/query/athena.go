package query

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
)

// AthenaAPI is the part of *athena.Client that RunAthena calls.
type AthenaAPI interface {
	StartQueryExecution(ctx context.Context, in *athena.StartQueryExecutionInput, optFns ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error)
	GetQueryExecution(ctx context.Context, in *athena.GetQueryExecutionInput, optFns ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error)
	GetQueryResults(ctx context.Context, in *athena.GetQueryResultsInput, optFns ...func(*athena.Options)) (*athena.GetQueryResultsOutput, error)
	StopQueryExecution(ctx context.Context, in *athena.StopQueryExecutionInput, optFns ...func(*athena.Options)) (*athena.StopQueryExecutionOutput, error)
}

// AthenaOptions configures RunAthena.
type AthenaOptions struct {
	// WorkGroup runs the query. Its settings decide the output location
	// when it enforces them, as the votestream workgroup does.
	WorkGroup string
	// Database is the Glue database that unqualified table and view names
	// refer to.
	Database string
	// OutputLocation is the s3:// prefix for the result files. Empty leaves
	// it to the workgroup.
	OutputLocation string

	// PollInterval is the first wait between GetQueryExecution calls; each
	// later wait doubles, up to MaxPollInterval. Defaults: 250ms and 5s.
	PollInterval    time.Duration
	MaxPollInterval time.Duration
	// Timeout bounds the whole query from start to the last page; when it
	// passes, RunAthena stops the query execution so that it stops scanning.
	// Default 10 minutes.
	Timeout time.Duration
	// PageSize is MaxResults of each GetQueryResults call: 1 to 1000, the
	// API's maximum, which is the default.
	PageSize int32

	// Logger receives the query execution id and each state change; nil
	// discards them.
	Logger *slog.Logger
}

func (o AthenaOptions) withDefaults() AthenaOptions {
	if o.PollInterval <= 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	if o.MaxPollInterval <= 0 {
		o.MaxPollInterval = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.PageSize <= 0 || o.PageSize > 1000 {
		o.PageSize = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// RunAthena starts stmt on Athena, polls until the query execution ends, and
// reads every page of its results, or the first stmt.Limit rows.
func RunAthena(ctx context.Context, api AthenaAPI, opts AthenaOptions, stmt Statement) (*Result, error) {
	opts = opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	in := &athena.StartQueryExecutionInput{
		QueryString: aws.String(stmt.SQL),
		WorkGroup:   nonEmpty(opts.WorkGroup),
	}
	if opts.Database != "" {
		in.QueryExecutionContext = &types.QueryExecutionContext{Database: aws.String(opts.Database)}
	}
	if opts.OutputLocation != "" {
		in.ResultConfiguration = &types.ResultConfiguration{OutputLocation: aws.String(opts.OutputLocation)}
	}
	started, err := api.StartQueryExecution(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("start Athena query in workgroup %q: %w", opts.WorkGroup, err)
	}
	id := aws.ToString(started.QueryExecutionId)
	log := opts.Logger.With("query_execution_id", id)
	log.Info("Athena query started", "workgroup", opts.WorkGroup, "database", opts.Database)

	execution, err := waitForQuery(ctx, api, opts, id, log)
	if err != nil {
		if ctx.Err() != nil {
			stopQuery(api, id, log)
		}
		return nil, err
	}
	return readResults(ctx, api, opts, id, execution.StatementType, stmt.Limit)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// waitForQuery polls GetQueryExecution with a doubling, capped wait until the
// query execution succeeds, fails or is cancelled.
func waitForQuery(ctx context.Context, api AthenaAPI, opts AthenaOptions, id string, log *slog.Logger) (*types.QueryExecution, error) {
	wait := opts.PollInterval
	var last types.QueryExecutionState
	for {
		out, err := api.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
		if err != nil && ctx.Err() != nil {
			return nil, unfinished(ctx, opts, id, last)
		}
		if err != nil {
			return nil, fmt.Errorf("poll Athena query %s: %w", id, err)
		}
		execution := out.QueryExecution
		if execution == nil || execution.Status == nil {
			return nil, fmt.Errorf("poll Athena query %s: the response has no status", id)
		}
		state := execution.Status.State
		if state != last {
			log.Info("Athena query state", "state", state)
			last = state
		}

		switch state {
		case types.QueryExecutionStateSucceeded:
			return execution, nil
		case types.QueryExecutionStateFailed, types.QueryExecutionStateCancelled:
			return nil, fmt.Errorf("Athena query %s %s: %s", id, strings.ToLower(string(state)), failureReason(execution.Status))
		}

		select {
		case <-ctx.Done():
			return nil, unfinished(ctx, opts, id, state)
		case <-time.After(wait):
		}
		wait = min(2*wait, opts.MaxPollInterval)
	}
}

// unfinished returns the error for a query execution that was still in state
// when ctx ended, by the timeout or by the caller.
func unfinished(ctx context.Context, opts AthenaOptions, id string, state types.QueryExecutionState) error {
	if state == "" {
		state = "unknown"
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("Athena query %s still %s after the timeout of %s: raise the timeout or narrow the query: %w", id, state, opts.Timeout, ctx.Err())
	}
	return fmt.Errorf("Athena query %s still %s: %w", id, state, ctx.Err())
}

// failureReason returns Athena's explanation of a failed query execution.
func failureReason(status *types.QueryExecutionStatus) string {
	reason := aws.ToString(status.StateChangeReason)
	if e := status.AthenaError; e != nil && aws.ToString(e.ErrorMessage) != "" && aws.ToString(e.ErrorMessage) != reason {
		if reason != "" {
			reason += "; "
		}
		reason += aws.ToString(e.ErrorMessage)
	}
	if reason == "" {
		reason = "Athena gave no reason"
	}
	return reason
}

// stopQuery calls StopQueryExecution for a query execution that RunAthena
// abandoned, so that it stops scanning and billing. It has its own short deadline
// because the query's context is already done.
func stopQuery(api AthenaAPI, id string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := api.StopQueryExecution(ctx, &athena.StopQueryExecutionInput{QueryExecutionId: aws.String(id)}); err != nil {
		log.Warn("stop Athena query", "err", err)
		return
	}
	log.Info("Athena query stopped")
}

// readResults pages through GetQueryResults with NextToken.
//
// For a SELECT (statement type DML) the first row of the first page repeats
// the column names; readResults drops it when it equals them. DDL and utility
// statements such as SHOW TABLES have no such row.
func readResults(ctx context.Context, api AthenaAPI, opts AthenaOptions, id string, statementType types.StatementType, limit int) (*Result, error) {
	r := &Result{}
	var token *string
	for page := 1; ; page++ {
		out, err := api.GetQueryResults(ctx, &athena.GetQueryResultsInput{
			QueryExecutionId: aws.String(id),
			NextToken:        token,
			MaxResults:       aws.Int32(opts.PageSize),
		})
		if err != nil {
			return nil, fmt.Errorf("read page %d of Athena query %s: %w", page, id, err)
		}
		if out.ResultSet == nil {
			return nil, fmt.Errorf("read page %d of Athena query %s: the response has no result set", page, id)
		}

		rows := out.ResultSet.Rows
		if page == 1 {
			if out.ResultSet.ResultSetMetadata != nil {
				for _, c := range out.ResultSet.ResultSetMetadata.ColumnInfo {
					r.Columns = append(r.Columns, Column{Name: aws.ToString(c.Name), Type: strings.ToLower(aws.ToString(c.Type))})
				}
			}
			if statementType == types.StatementTypeDml && len(rows) > 0 && isHeader(rows[0], r.Columns) {
				rows = rows[1:]
			}
		}

		for _, row := range rows {
			if limit > 0 && len(r.Rows) == limit {
				r.Truncated = true
				return r, nil
			}
			cells, err := athenaCells(row, len(r.Columns))
			if err != nil {
				return nil, fmt.Errorf("read page %d of Athena query %s: row %d: %w", page, id, len(r.Rows)+1, err)
			}
			r.Rows = append(r.Rows, cells)
		}

		token = out.NextToken
		if token == nil || *token == "" {
			return r, nil
		}
	}
}

// isHeader reports whether row holds exactly the column names.
func isHeader(row types.Row, columns []Column) bool {
	if len(row.Data) != len(columns) {
		return false
	}
	for i, d := range row.Data {
		if d.VarCharValue == nil || *d.VarCharValue != columns[i].Name {
			return false
		}
	}
	return true
}

// athenaCells converts one row; a Datum without VarCharValue is NULL.
func athenaCells(row types.Row, columns int) ([]Cell, error) {
	if len(row.Data) != columns {
		return nil, fmt.Errorf("%d values for %d columns", len(row.Data), columns)
	}
	cells := make([]Cell, columns)
	for i, d := range row.Data {
		if d.VarCharValue == nil {
			cells[i] = Cell{Null: true}
		} else {
			cells[i] = Cell{Text: *d.VarCharValue}
		}
	}
	return cells, nil
}
