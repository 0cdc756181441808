package main

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/paykeys/paykeys/internal/app/decide"
	"github.com/paykeys/paykeys/internal/authorizer"
	"github.com/paykeys/paykeys/internal/awsclient/envconfig"
	"github.com/paykeys/paykeys/internal/delivery"
	"github.com/paykeys/paykeys/internal/metrics"
	"github.com/paykeys/paykeys/internal/rotate"
	"github.com/paykeys/paykeys/internal/usage"
)

// emittedMetrics are the metrics the functions write (namespace paykeys).
var emittedMetrics = []string{
	authorizer.MetricDecisions, authorizer.MetricLatency,
	decide.MetricCacheHits, decide.MetricCacheMisses, decide.MetricFeedLag, decide.MetricFeedErrors,
	decide.MetricCachePurges, decide.MetricFeedPolls, decide.MetricKeysDropped,
	envconfig.StoreErrors,
	delivery.MetricDeliveries, delivery.MetricEndpointsDisabled,
	rotate.MetricRuns, rotate.MetricKeys, rotate.MetricKeysUpdated, rotate.MetricKeysFailed, rotate.MetricEvents,
	rotate.MetricSecretsRetired, rotate.MetricOrphansDeleted, rotate.MetricKEKRotations, rotate.MetricDuration, rotate.MetricStoppedAfter,
	usage.MetricFlushFailures, usage.MetricDropped,
}

// wantAlarms are the alarms on-call is paged by (the README's runbook).
var wantAlarms = []string{
	"AuthorizerErrorRateAlarm", "DeliveryFailureQueueAlarm", "EndpointsDisabledAlarm",
	"FunctionErrorsAlarm", "FunctionThrottlesAlarm", "LifecycleNotCompletingAlarm",
}

func loadResources(t *testing.T) (root, resources *yaml.Node) {
	t.Helper()
	data, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	root = resolve(&doc)
	return root, mapGet(root, "Resources")
}

// eachResource calls fn with every resource of type typ.
func eachResource(resources *yaml.Node, typ string, fn func(id string, res *yaml.Node)) {
	for i := 0; i+1 < len(resources.Content); i += 2 {
		res := resolve(resources.Content[i+1])
		if v, _ := plainScalar(mapGet(res, "Type")); v == typ {
			fn(resolve(resources.Content[i]).Value, res)
		}
	}
}

// Every log group is kept for a bounded time, every function logs JSON to
// a log group of the template, and every HTTP API writes an access log to one.
func TestTemplateDeclaresEveryLogGroupWithARetention(t *testing.T) {
	root, resources := loadResources(t)
	groups := map[string]bool{}
	eachResource(resources, "AWS::Logs::LogGroup", func(id string, res *yaml.Node) {
		groups[id] = true
		n := mapGet(mapGet(res, "Properties"), "RetentionInDays")
		if _, isRef := refTarget(n); n == nil || !isRef && n.Value == "" {
			t.Errorf("log group %s has no RetentionInDays: it would grow forever", id)
		}
	})
	if len(groups) == 0 {
		t.Fatal("no log groups in the template")
	}
	globals := mapGet(mapGet(root, "Globals"), "Function")
	if v, _ := plainScalar(mapGet(mapGet(globals, "LoggingConfig"), "LogFormat")); v != "JSON" {
		t.Errorf("Globals LoggingConfig LogFormat = %q, want JSON", v)
	}
	if v, _ := plainScalar(mapGet(globals, "Tracing")); v != "Active" {
		t.Errorf("Globals Tracing = %q, want Active", v)
	}
	functions := 0
	eachResource(resources, "AWS::Serverless::Function", func(id string, res *yaml.Node) {
		functions++
		g, ok := refTarget(mapGet(mapGet(mapGet(res, "Properties"), "LoggingConfig"), "LogGroup"))
		if !ok || !groups[g] {
			t.Errorf("function %s logs to %q, not a log group of the template (LoggingConfig.LogGroup: !Ref <group>)", id, g)
		}
	})
	apis := 0
	eachResource(resources, "AWS::Serverless::HttpApi", func(id string, res *yaml.Node) {
		apis++
		dest := mapGet(mapGet(mapGet(res, "Properties"), "AccessLogSettings"), "DestinationArn")
		if g, ok := functionRef(dest); !ok || !groups[g] {
			t.Errorf("HTTP API %s writes no access log to a log group of the template", id)
		}
	})
	if functions < 9 || apis < 2 {
		t.Errorf("%d functions and %d HTTP APIs, want at least 9 and 2", functions, apis)
	}
}

var (
	quotedMetric = regexp.MustCompile(`"paykeys","([A-Za-z]+)"`)
	searchMetric = regexp.MustCompile(`\{paykeys,[^}]*\} MetricName=\\"([A-Za-z]+)\\"`)
)

// The alarms exist, only when a topic is given, and notify it; every
// metric of namespace paykeys that an alarm or the dashboard names is one
// the functions write.
func TestTemplateAlarmsNotifyTheTopicAndWatchRealMetrics(t *testing.T) {
	_, resources := loadResources(t)
	var alarms []string
	named := map[string]string{} // metric -> where
	eachResource(resources, "AWS::CloudWatch::Alarm", func(id string, res *yaml.Node) {
		alarms = append(alarms, id)
		if c, _ := plainScalar(mapGet(res, "Condition")); c != "AlarmsEnabled" {
			t.Errorf("alarm %s: Condition %q, want AlarmsEnabled", id, c)
		}
		props := mapGet(res, "Properties")
		for _, key := range []string{"AlarmActions", "OKActions"} {
			list := mapGet(props, key)
			if list == nil || len(list.Content) != 1 {
				t.Errorf("alarm %s: %s is not [!Ref AlarmTopicArn]", id, key)
				continue
			}
			if ref, _ := refTarget(list.Content[0]); ref != "AlarmTopicArn" {
				t.Errorf("alarm %s: %s is not [!Ref AlarmTopicArn]", id, key)
			}
		}
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			n = resolve(n)
			if n == nil {
				return
			}
			if ns, _ := plainScalar(mapGet(n, "Namespace")); ns == metrics.Namespace {
				if m, ok := plainScalar(mapGet(n, "MetricName")); ok {
					named[m] = "alarm " + id
				}
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(props)
	})
	sort.Strings(alarms)
	if !slices.Equal(alarms, wantAlarms) {
		t.Errorf("alarms %v, want %v", alarms, wantAlarms)
	}
	dashboards := 0
	eachResource(resources, "AWS::CloudWatch::Dashboard", func(id string, res *yaml.Node) {
		dashboards++
		body := resolve(mapGet(mapGet(res, "Properties"), "DashboardBody")).Value
		for _, re := range []*regexp.Regexp{quotedMetric, searchMetric} {
			for _, m := range re.FindAllStringSubmatch(body, -1) {
				named[m[1]] = "dashboard " + id
			}
		}
	})
	if dashboards != 1 {
		t.Errorf("%d dashboards, want 1", dashboards)
	}
	if len(named) < 10 {
		t.Errorf("only %d metrics named by the alarms and dashboard: %v", len(named), named)
	}
	for m, where := range named {
		if !slices.Contains(emittedMetrics, m) {
			t.Errorf("%s names metric %s, which no function writes (%s)", where, m, strings.Join(emittedMetrics, ", "))
		}
	}
}
