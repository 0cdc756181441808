package main

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/paykeys/paykeys/internal/app/decide"
	"github.com/paykeys/paykeys/internal/authorizer"
	"github.com/paykeys/paykeys/internal/awsclient/envconfig"
	"github.com/paykeys/paykeys/internal/cfn"
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

// loadTemplate reads the project's template.
func loadTemplate(t *testing.T) *yaml.Node {
	t.Helper()
	root, err := cfn.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// Every log group is kept for a bounded time, every function logs JSON to
// a log group of the template, and every HTTP API writes an access log to one.
func TestTemplateDeclaresEveryLogGroupWithARetention(t *testing.T) {
	root := loadTemplate(t)
	groups := map[string]bool{}
	for id, res := range cfn.Resources(root, "AWS::Logs::LogGroup") {
		groups[id] = true
		n := cfn.Get(cfn.Get(res, "Properties"), "RetentionInDays")
		if _, isRef := cfn.Ref(n); n == nil || !isRef && n.Value == "" {
			t.Errorf("log group %s has no RetentionInDays: it would grow forever", id)
		}
	}
	if len(groups) == 0 {
		t.Fatal("no log groups in the template")
	}
	globals := cfn.Get(cfn.Get(root, "Globals"), "Function")
	if v, _ := cfn.Scalar(cfn.Get(cfn.Get(globals, "LoggingConfig"), "LogFormat")); v != "JSON" {
		t.Errorf("Globals LoggingConfig LogFormat = %q, want JSON", v)
	}
	if v, _ := cfn.Scalar(cfn.Get(globals, "Tracing")); v != "Active" {
		t.Errorf("Globals Tracing = %q, want Active", v)
	}
	functions := 0
	for id, res := range cfn.Resources(root, "AWS::Serverless::Function") {
		functions++
		g, ok := cfn.Ref(cfn.Get(cfn.Get(cfn.Get(res, "Properties"), "LoggingConfig"), "LogGroup"))
		if !ok || !groups[g] {
			t.Errorf("function %s logs to %q, not a log group of the template (LoggingConfig.LogGroup: !Ref <group>)", id, g)
		}
	}
	apis := 0
	for id, res := range cfn.Resources(root, "AWS::Serverless::HttpApi") {
		apis++
		dest := cfn.Get(cfn.Get(cfn.Get(res, "Properties"), "AccessLogSettings"), "DestinationArn")
		if g, ok := functionRef(dest); !ok || !groups[g] {
			t.Errorf("HTTP API %s writes no access log to a log group of the template", id)
		}
	}
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
	root := loadTemplate(t)
	var alarms []string
	named := map[string]string{} // metric -> where
	for id, res := range cfn.Resources(root, "AWS::CloudWatch::Alarm") {
		alarms = append(alarms, id)
		if c, _ := cfn.Scalar(cfn.Get(res, "Condition")); c != "AlarmsEnabled" {
			t.Errorf("alarm %s: Condition %q, want AlarmsEnabled", id, c)
		}
		props := cfn.Get(res, "Properties")
		for _, key := range []string{"AlarmActions", "OKActions"} {
			list := cfn.Get(props, key)
			if list == nil || len(list.Content) != 1 {
				t.Errorf("alarm %s: %s is not [!Ref AlarmTopicArn]", id, key)
				continue
			}
			if ref, _ := cfn.Ref(list.Content[0]); ref != "AlarmTopicArn" {
				t.Errorf("alarm %s: %s is not [!Ref AlarmTopicArn]", id, key)
			}
		}
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			n = cfn.Resolve(n)
			if n == nil {
				return
			}
			if ns, _ := cfn.Scalar(cfn.Get(n, "Namespace")); ns == metrics.Namespace {
				if m, ok := cfn.Scalar(cfn.Get(n, "MetricName")); ok {
					named[m] = "alarm " + id
				}
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(props)
	}
	sort.Strings(alarms)
	if !slices.Equal(alarms, wantAlarms) {
		t.Errorf("alarms %v, want %v", alarms, wantAlarms)
	}
	dashboards := 0
	for id, res := range cfn.Resources(root, "AWS::CloudWatch::Dashboard") {
		dashboards++
		body := cfn.Resolve(cfn.Get(cfn.Get(res, "Properties"), "DashboardBody")).Value
		for _, re := range []*regexp.Regexp{quotedMetric, searchMetric} {
			for _, m := range re.FindAllStringSubmatch(body, -1) {
				named[m[1]] = "dashboard " + id
			}
		}
	}
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
