package store

import (
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Update and condition expressions are built with the SDK's expression
// builder, which names every attribute and value by a placeholder.

// asIs passes an attribute value through the expression builder unchanged.
type asIs struct{ av types.AttributeValue }

func (a asIs) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) { return a.av, nil }

// val is an expression operand holding av as it is.
func val(av types.AttributeValue) expression.ValueBuilder { return expression.Value(asIs{av}) }

// attrOf is an expression operand naming a top-level attribute (never a path).
func attrOf(n string) expression.NameBuilder { return expression.NameNoDotSplit(n) }

// built is an update and its condition (if any) as an UpdateItem or a
// transaction's Update takes them.
type built struct {
	update, condition *string
	names             map[string]string
	values            map[string]types.AttributeValue
}

// buildUpdate builds an update with an optional condition. The store builds
// them from its own attribute names and values, so an error is a bug here;
// it is returned all the same.
func buildUpdate(u expression.UpdateBuilder, cond *expression.ConditionBuilder) (built, error) {
	b := expression.NewBuilder().WithUpdate(u)
	if cond != nil {
		b = b.WithCondition(*cond)
	}
	e, err := b.Build()
	if err != nil {
		return built{}, fmt.Errorf("build update expression: %w", err)
	}
	return built{update: e.Update(), condition: e.Condition(), names: e.Names(), values: e.Values()}, nil
}

// mustBuildUpdate is buildUpdate for updates made of constants only, where
// an error can only be a bug in this package.
func mustBuildUpdate(u expression.UpdateBuilder, cond *expression.ConditionBuilder) built {
	b, err := buildUpdate(u, cond)
	if err != nil {
		panic(err)
	}
	return b
}

// ifNotExists adds to u a SET of each attribute in attrs to its value unless
// the item already has the attribute, in the order of the names.
func ifNotExists(u expression.UpdateBuilder, attrs map[string]types.AttributeValue) expression.UpdateBuilder {
	for _, n := range slices.Sorted(maps.Keys(attrs)) {
		u = u.Set(attrOf(n), expression.IfNotExists(attrOf(n), val(attrs[n])))
	}
	return u
}
