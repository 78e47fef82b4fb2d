package firehose

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// invokePath is the path of the Lambda Invoke API (API version 2015-03-31)
// for the one function that the Runtime Interface Emulator serves. AWS puts
// the function name where this has "function".
const invokePath = "/2015-03-31/functions/function/invocations"

// DefaultLambdaTimeout bounds one HTTP invocation when HTTPProcessorOptions
// leaves Timeout zero. It is the longest timeout that Firehose accepts for
// a transformation Lambda, 5 minutes.
const DefaultLambdaTimeout = 5 * time.Minute

// HTTPProcessorOptions configures NewHTTPProcessor.
type HTTPProcessorOptions struct {
	// Client sends the invocations. Nil means a client with no timeout of
	// its own, so that Timeout alone bounds an invocation.
	Client *http.Client

	// Timeout bounds one invocation, from the request to the end of the
	// response body. Zero means DefaultLambdaTimeout.
	Timeout time.Duration
}

// FunctionError is an invocation that reached the Lambda but did not return
// a response: the handler returned an error or panicked, the runtime
// crashed, or the endpoint rejected the request.
type FunctionError struct {
	// StatusCode is the HTTP status of the Invoke response.
	StatusCode int
	// ErrorType and ErrorMessage come from the Lambda error document
	// ({"errorType": …, "errorMessage": …}) when the body is one.
	ErrorType    string
	ErrorMessage string
	// Body is the start of the response body when it is not an error
	// document, for the log.
	Body string
}

func (e *FunctionError) Error() string {
	if e.ErrorType != "" || e.ErrorMessage != "" {
		return fmt.Sprintf("Lambda function error (HTTP %d): %s: %s", e.StatusCode, e.ErrorType, e.ErrorMessage)
	}
	return fmt.Sprintf("Lambda invocation failed with HTTP %d: %s", e.StatusCode, e.Body)
}

// lambdaErrorDocument is the body that the Lambda runtime returns for a
// handler error, as aws-lambda-go and the Runtime Interface Emulator write
// it.
type lambdaErrorDocument struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

// NewHTTPProcessor returns a ProcessorFunc that invokes a Lambda function
// over HTTP with the Invoke API shape that the AWS Lambda Runtime Interface
// Emulator serves: POST baseURL/2015-03-31/functions/function/invocations
// with the event as the JSON body. baseURL is the emulator's address, such
// as http://127.0.0.1:9000.
//
// A response with a non-2xx status, an X-Amz-Function-Error header or a
// Lambda error document as its body returns a *FunctionError. The Server
// retries such a batch NumberOfRetries times, as Firehose does, and then
// writes its records to the processing-failed error prefix.
func NewHTTPProcessor(baseURL string, opts HTTPProcessorOptions) (ProcessorFunc, error) {
	parsed, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("Lambda endpoint %q: %w", baseURL, err)
	}
	if parsed.Scheme != "http" && parsed.Scheme != "https" || parsed.Host == "" {
		return nil, fmt.Errorf("Lambda endpoint %q is invalid: use http://HOST:PORT, such as http://127.0.0.1:9000", baseURL)
	}
	endpoint := strings.TrimSuffix(baseURL, "/") + invokePath

	client := opts.Client
	if client == nil {
		client = &http.Client{}
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultLambdaTimeout
	}

	return func(ctx context.Context, event events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
		var response events.KinesisFirehoseResponse
		body, err := json.Marshal(event)
		if err != nil {
			return response, fmt.Errorf("encode invocation %s: %w", event.InvocationID, err)
		}

		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			return response, fmt.Errorf("invocation %s: %w", event.InvocationID, err)
		}
		req.Header.Set("Content-Type", "application/json")

		resp, err := client.Do(req)
		if err != nil {
			return response, fmt.Errorf("invoke %s for invocation %s: %w", endpoint, event.InvocationID, err)
		}
		defer resp.Body.Close()

		// Read one byte past the Lambda response limit, so that an
		// oversized response is recognised without reading all of it.
		payload, err := io.ReadAll(io.LimitReader(resp.Body, maxLambdaPayload+1))
		if err != nil {
			return response, fmt.Errorf("read response of invocation %s: %w", event.InvocationID, err)
		}
		if len(payload) > maxLambdaPayload {
			return response, &contractError{"Lambda.ResponseSizeExceeded", fmt.Sprintf("the response of invocation %s is over the Lambda limit of %d bytes", event.InvocationID, maxLambdaPayload)}
		}

		if err := functionError(resp, payload); err != nil {
			return response, err
		}
		if err := json.Unmarshal(payload, &response); err != nil {
			return response, &contractError{"Lambda.JsonProcessingException", fmt.Sprintf("the response of invocation %s is not a Firehose transformation response: %v", event.InvocationID, err)}
		}
		return response, nil
	}, nil
}

// functionError returns a *FunctionError when the Invoke response reports a
// failed invocation, and nil for a response to decode.
func functionError(resp *http.Response, payload []byte) error {
	failed := resp.StatusCode/100 != 2 || resp.Header.Get("X-Amz-Function-Error") != ""

	var doc lambdaErrorDocument
	isErrorDocument := false
	var fields map[string]json.RawMessage
	if json.Unmarshal(payload, &fields) == nil {
		_, hasType := fields["errorType"]
		_, hasMessage := fields["errorMessage"]
		_, hasRecords := fields["records"]
		isErrorDocument = (hasType || hasMessage) && !hasRecords
	}
	if isErrorDocument {
		// A second decode keeps the field names in one place, the struct tags.
		_ = json.Unmarshal(payload, &doc)
		failed = true
	}
	if !failed {
		return nil
	}

	err := &FunctionError{StatusCode: resp.StatusCode, ErrorType: doc.ErrorType, ErrorMessage: doc.ErrorMessage}
	if !isErrorDocument {
		const maxBody = 512
		err.Body = string(payload[:min(len(payload), maxBody)])
	}
	return err
}
