package main

import (
	"context"
	"os"

	"github.com/paykeys/paykeys/internal/awsclient"
	"github.com/paykeys/paykeys/internal/store"
)

// createTable creates the table in the local stack's DynamoDB, if needed.
func createTable(ctx context.Context, name string) error {
	cfg, err := awsclient.Load(ctx, awsclient.Options{
		Region:           os.Getenv("AWS_REGION"),
		DynamoDBEndpoint: os.Getenv("DYNAMODB_ENDPOINT"),
	})
	if err != nil {
		return err
	}
	return store.CreateTable(ctx, awsclient.DynamoDB(cfg, os.Getenv("DYNAMODB_ENDPOINT")), name)
}
