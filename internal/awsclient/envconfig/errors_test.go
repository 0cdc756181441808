package envconfig

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/paykeys/paykeys/internal/metrics"
)

func TestStoreErrorLeavesOutExpectedAnswers(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"no error", context.Background(), nil, false},
		{"a condition that did not hold", context.Background(), &smithy.GenericAPIError{Code: "ConditionalCheckFailedException"}, false},
		{"a destroyed secret", context.Background(), &smithy.GenericAPIError{Code: "ResourceNotFoundException"}, false},
		{"throttled", context.Background(), &smithy.GenericAPIError{Code: "ThrottlingException"}, true},
		{"access denied", context.Background(), &smithy.GenericAPIError{Code: "AccessDeniedException"}, true},
		{"a network failure", context.Background(), errors.New("dial tcp: connection refused"), true},
		{"the caller gave up", canceled, context.Canceled, false},
		{"a timeout", context.Background(), context.DeadlineExceeded, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := storeError(tt.ctx, tt.err); got != tt.want {
				t.Errorf("storeError = %v, want %v", got, tt.want)
			}
		})
	}
}

// A call that fails is counted once, after the SDK's retries, with its
// service and operation; one that succeeds or meets a condition is not.
func TestClientsCountFailedCalls(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		switch target := r.Header.Get("X-Amz-Target"); {
		case strings.HasSuffix(target, "GetItem"):
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"boom"}`))
		case strings.HasSuffix(target, "PutItem"):
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"no"}`))
		default:
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	defer srv.Close()
	var out bytes.Buffer
	m := metrics.New(&out, "f", "")
	cfg, err := Load(func(string) string { return "" }, Options{DynamoDBEndpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	cfg.APIOptions = []func(*middleware.Stack) error{countErrors(m)}
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	db := DynamoDB(cfg, srv.URL)
	ctx := context.Background()
	table := aws.String("t")
	item := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "x"}}
	_, _ = db.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: item})
	_, _ = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: item})
	_, _ = db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: item})
	_ = m.Flush()
	got := out.String()
	if strings.Count(got, "\n") != 1 || !strings.Contains(got, `"Operation":"GetItem"`) || !strings.Contains(got, `"Store":"DynamoDB"`) ||
		!strings.Contains(got, `"StoreErrors":1`) {
		t.Errorf("want one StoreErrors line for GetItem, got:\n%s", got)
	}
}
