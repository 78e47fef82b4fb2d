package firehose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// lambdaEndpoint serves the Invoke API path of the Runtime Interface
// Emulator with handle, and counts the invocations.
func lambdaEndpoint(t *testing.T, handle http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	calls := new(atomic.Int32)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != invokePath {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		handle(w, r)
	}))
	t.Cleanup(server.Close)
	return server, calls
}

func TestHTTPProcessorDeliversToLake(t *testing.T) {
	var rawEvent atomic.Value
	endpoint, calls := lambdaEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rawEvent.Store(body)
		var event events.KinesisFirehoseEvent
		if err := json.Unmarshal(body, &event); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		response, err := echoProcessor(r.Context(), event)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(response)
	})
	process, err := NewHTTPProcessor(endpoint.URL, HTTPProcessorOptions{})
	if err != nil {
		t.Fatalf("NewHTTPProcessor: %v", err)
	}
	env := newTestEnv(t, process, "")
	castAt := time.Date(2024, 11, 5, 14, 0, 0, 0, time.UTC)
	env.putBatch(t, packRecord(t, 0, 2, castAt), packRecord(t, 2, 3, castAt))
	if err := env.server.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	if got := calls.Load(); got != 1 {
		t.Errorf("endpoint called %d times, want 1", got)
	}
	if got := env.server.Stats().RowsDelivered; got != 5 {
		t.Errorf("RowsDelivered = %d, want 5", got)
	}

	// The wire format of the event, as a Lambda receives it from Firehose.
	var wire struct {
		InvocationID      string `json:"invocationId"`
		DeliveryStreamArn string `json:"deliveryStreamArn"`
		Records           []struct {
			RecordID                    string          `json:"recordId"`
			ApproximateArrivalTimestamp json.RawMessage `json:"approximateArrivalTimestamp"`
			Data                        string          `json:"data"`
		} `json:"records"`
	}
	if err := json.Unmarshal(rawEvent.Load().([]byte), &wire); err != nil {
		t.Fatalf("decode the event sent: %v", err)
	}
	if wire.InvocationID == "" || wire.DeliveryStreamArn != env.stream.ARN {
		t.Errorf("event invocationId %q, deliveryStreamArn %q; want an id and %s", wire.InvocationID, wire.DeliveryStreamArn, env.stream.ARN)
	}
	if len(wire.Records) != 2 {
		t.Fatalf("event has %d records, want 2", len(wire.Records))
	}
	if got, want := string(wire.Records[0].ApproximateArrivalTimestamp), "1730854923000"; got != want {
		t.Errorf("approximateArrivalTimestamp = %s, want epoch milliseconds %s", got, want)
	}
	if wire.Records[0].RecordID == "" || strings.HasPrefix(wire.Records[0].Data, "{") {
		t.Errorf("record 0 has recordId %q and data %.20q; want an id and base64 data", wire.Records[0].RecordID, wire.Records[0].Data)
	}
}

func TestHTTPProcessorFailures(t *testing.T) {
	cases := []struct {
		name        string
		respond     http.HandlerFunc
		wantType    string // of a *FunctionError; empty when wantCode is set
		wantCode    string // of a *contractError
		wantMessage string
	}{
		{
			name: "error document with X-Amz-Function-Error",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("X-Amz-Function-Error", "Unhandled")
				io.WriteString(w, `{"errorType":"errors.errorString","errorMessage":"acquire connection: timeout"}`)
			},
			wantType:    "errors.errorString",
			wantMessage: "acquire connection: timeout",
		},
		{
			name: "error document without header",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				io.WriteString(w, `{"errorMessage":"Runtime exited with error: exit status 2","errorType":"Runtime.ExitError"}`)
			},
			wantType:    "Runtime.ExitError",
			wantMessage: "Runtime exited with error: exit status 2",
		},
		{
			name: "server error status",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "emulator is starting", http.StatusBadGateway)
			},
			wantMessage: "emulator is starting",
		},
		{
			name: "body is not JSON",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				io.WriteString(w, "null garbage")
			},
			wantCode: "Lambda.JsonProcessingException",
		},
		{
			name: "response over 6 MB",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.Write(bytes.Repeat([]byte(" "), maxLambdaPayload+1))
			},
			wantCode: "Lambda.ResponseSizeExceeded",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			endpoint, _ := lambdaEndpoint(t, c.respond)
			process, err := NewHTTPProcessor(endpoint.URL, HTTPProcessorOptions{})
			if err != nil {
				t.Fatalf("NewHTTPProcessor: %v", err)
			}
			_, err = process(context.Background(), events.KinesisFirehoseEvent{InvocationID: "inv-1"})
			if err == nil {
				t.Fatal("invocation returned no error")
			}

			if c.wantCode != "" {
				var contract *contractError
				if !errors.As(err, &contract) {
					t.Fatalf("error %v is a %T, want a contract error %s", err, err, c.wantCode)
				}
				if contract.code != c.wantCode {
					t.Errorf("contract error code = %s, want %s", contract.code, c.wantCode)
				}
				return
			}
			var functionErr *FunctionError
			if !errors.As(err, &functionErr) {
				t.Fatalf("error %v is a %T, want *FunctionError", err, err)
			}
			if functionErr.ErrorType != c.wantType {
				t.Errorf("ErrorType = %q, want %q", functionErr.ErrorType, c.wantType)
			}
			if !strings.Contains(functionErr.Error(), c.wantMessage) {
				t.Errorf("error %q does not contain %q", functionErr.Error(), c.wantMessage)
			}
		})
	}
}

func TestHTTPProcessorRetriesThenErrorPrefix(t *testing.T) {
	endpoint, calls := lambdaEndpoint(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		io.WriteString(w, `{"errorType":"errors.errorString","errorMessage":"database is down"}`)
	})
	process, err := NewHTTPProcessor(endpoint.URL, HTTPProcessorOptions{})
	if err != nil {
		t.Fatalf("NewHTTPProcessor: %v", err)
	}
	env := newTestEnv(t, process, "")
	castAt := time.Date(2024, 11, 5, 14, 0, 0, 0, time.UTC)
	records := [][]byte{packRecord(t, 0, 2, castAt), packRecord(t, 2, 1, castAt)}
	env.putBatch(t, records...)
	if err := env.server.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	if got, want := calls.Load(), int32(1+env.stream.Processor.NumberOfRetries); got != want {
		t.Errorf("endpoint called %d times, want %d (1 + NumberOfRetries)", got, want)
	}
	docs := env.errorDocuments(t, ErrorProcessingFailed)
	if len(docs) != len(records) {
		t.Fatalf("got %d processing-failed documents, want %d", len(docs), len(records))
	}
	if docs[0]["errorCode"] != "Lambda.FunctionError" {
		t.Errorf("errorCode = %v, want Lambda.FunctionError", docs[0]["errorCode"])
	}
	if message, _ := docs[0]["errorMessage"].(string); !strings.Contains(message, "database is down") {
		t.Errorf("errorMessage = %q, want the function's errorMessage", message)
	}
}

func TestNewHTTPProcessorRejectsInvalidURL(t *testing.T) {
	for _, url := range []string{"", "127.0.0.1:9000", "ftp://127.0.0.1/", "http://"} {
		if _, err := NewHTTPProcessor(url, HTTPProcessorOptions{}); err == nil {
			t.Errorf("NewHTTPProcessor(%q) returned no error", url)
		}
	}
}
