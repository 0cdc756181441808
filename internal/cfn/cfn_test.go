package cfn

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const sample = `
Globals:
  Function: &fn
    Timeout: 5
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
  KeysFunction:
    Type: AWS::Serverless::Function
    Properties:
      Plain: text
      Number: 7
      Null: ~
      Ref: !Ref Api
      LongRef: {Ref: Api}
      Sub: !Sub "arn:${AWS::Partition}:x"
      GetAtt: !GetAtt Table.Arn
      GetAttList: !GetAtt [Table, Arn]
      If: !If [Cond, !Ref A, !Ref "AWS::NoValue"]
      Cond: !Condition IsProd
      List: [a, !Ref B, c]
      One: single
      Shared: *fn
  OtherFunction:
    Type: AWS::Serverless::Function
`

func parse(t *testing.T) *yaml.Node {
	t.Helper()
	root, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, err string
	}{
		{"a template", sample, ""},
		{"not YAML", "Resources: [", "parse template: yaml"},
		{"empty", "", "not a YAML mapping"},
		{"a list", "- a", "not a YAML mapping"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root, err := Parse([]byte(tt.yaml))
			if tt.err == "" {
				if err != nil || root.Kind != yaml.MappingNode {
					t.Fatalf("Parse: %v, %v", root, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want one containing %q", err, tt.err)
			}
		})
	}
	if _, err := ReadFile("testdata/none.yaml"); err == nil || !strings.Contains(err.Error(), "read template") {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
}

func TestReaders(t *testing.T) {
	props := Get(Get(Get(parse(t), "Resources"), "KeysFunction"), "Properties")
	type got struct {
		scalar  string
		plain   bool
		ref     string
		isRef   bool
		strings []string
	}
	for _, tt := range []struct {
		key  string
		want got
	}{
		{"Plain", got{"text", true, "", false, []string{"text"}}},
		{"Number", got{"7", true, "", false, []string{"7"}}},
		{"Null", got{"", false, "", false, nil}},
		{"Ref", got{"", false, "Api", true, nil}},
		{"LongRef", got{"", false, "Api", true, nil}},
		{"Sub", got{"", false, "", false, nil}},
		{"GetAtt", got{"", false, "", false, nil}},
		{"Cond", got{"", false, "", false, nil}},
		{"List", got{"", false, "", false, []string{"a", "c"}}},
		{"One", got{"single", true, "", false, []string{"single"}}},
		{"Missing", got{"", false, "", false, nil}},
	} {
		t.Run(tt.key, func(t *testing.T) {
			n := Get(props, tt.key)
			var g got
			g.scalar, g.plain = Scalar(n)
			g.ref, g.isRef = Ref(n)
			g.strings = Strings(n)
			if !reflect.DeepEqual(g, tt.want) {
				t.Errorf("got %+v, want %+v", g, tt.want)
			}
		})
	}
	// An alias reads as what it names.
	if v, ok := Scalar(Get(Get(props, "Shared"), "Timeout")); !ok || v != "5" {
		t.Errorf("Shared.Timeout = %q, %v; want 5 through the alias", v, ok)
	}
	if Get(Get(props, "Plain"), "x") != nil || Get(nil, "x") != nil {
		t.Error("Get of a scalar or of nil is not nil")
	}
}

func TestValueWritesShortFormsLong(t *testing.T) {
	props := Get(Get(Get(parse(t), "Resources"), "KeysFunction"), "Properties")
	for _, tt := range []struct {
		key  string
		want any
	}{
		{"Plain", "text"},
		{"Ref", map[string]any{"Ref": "Api"}},
		{"LongRef", map[string]any{"Ref": "Api"}},
		{"Sub", map[string]any{"Fn::Sub": "arn:${AWS::Partition}:x"}},
		{"GetAtt", map[string]any{"Fn::GetAtt": "Table.Arn"}},
		{"GetAttList", map[string]any{"Fn::GetAtt": []any{"Table", "Arn"}}},
		{"If", map[string]any{"Fn::If": []any{"Cond", map[string]any{"Ref": "A"}, map[string]any{"Ref": "AWS::NoValue"}}}},
		{"Cond", map[string]any{"Condition": "IsProd"}},
		{"List", []any{"a", map[string]any{"Ref": "B"}, "c"}},
		{"Shared", map[string]any{"Timeout": "5"}},
		{"Missing", nil},
	} {
		t.Run(tt.key, func(t *testing.T) {
			if got := Value(Get(props, tt.key)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Value = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestResourcesAndPairsKeepTemplateOrder(t *testing.T) {
	root := parse(t)
	var fns []string
	for id := range Resources(root, "AWS::Serverless::Function") {
		fns = append(fns, id)
	}
	if want := []string{"KeysFunction", "OtherFunction"}; !slices.Equal(fns, want) {
		t.Errorf("functions %v, want %v", fns, want)
	}
	var keys []string
	for k := range Pairs(root) {
		keys = append(keys, k)
	}
	if want := []string{"Globals", "Resources"}; !slices.Equal(keys, want) {
		t.Errorf("top-level keys %v, want %v", keys, want)
	}
	// A loop may stop early.
	first := ""
	for id := range Resources(root, "AWS::Serverless::Function") {
		first = id
		break
	}
	if first != "KeysFunction" {
		t.Errorf("first function %q, want KeysFunction", first)
	}
}
