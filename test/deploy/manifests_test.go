// Package manifests checks deploy/kubernetes against the Kubernetes API types: every manifest decodes strictly
// (an unknown or misspelt field fails) into its typed object, and the parts fit together the way a cluster and
// Tessera need them to (probe paths and ports, non-root, secret and ConfigMap references, Service ports).
package manifests

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// manifestDir is deploy/kubernetes, from test/deploy.
const manifestDir = "../../deploy/kubernetes"

// The paths Tessera answers its probes on (src/ops/operations.ts).
const (
	livenessPath  = "/healthz"
	readinessPath = "/readyz"
)

// kustomization is the part of kustomize's Kustomization these manifests use; strict decoding refuses any other
// field, so a new one must be added here (and checked) first.
type kustomization struct {
	APIVersion string               `json:"apiVersion"`
	Kind       string               `json:"kind"`
	Resources  []string             `json:"resources"`
	Images     []kustomizationImage `json:"images"`
}

// kustomizationImage replaces the name and tag of an image in the resources.
type kustomizationImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName"`
	NewTag  string `json:"newTag"`
}

// manifests holds every decoded file of deploy/kubernetes.
type manifests struct {
	deployment    appsv1.Deployment
	service       corev1.Service
	secret        corev1.Secret
	configMap     corev1.ConfigMap
	pdb           policyv1.PodDisruptionBudget
	kustomization kustomization
}

// decodeStrict reads one file into out, refusing unknown and duplicate fields, and checks its kind.
func decodeStrict(t *testing.T, file, apiVersion, kind string, out any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(manifestDir, file))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "\n---") {
		t.Fatalf("%s: one object per file expected", file)
	}
	if err := yaml.UnmarshalStrict(data, out); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		t.Fatal(err)
	}
	if head.APIVersion != apiVersion || head.Kind != kind {
		t.Fatalf("%s: %s %s, expected %s %s", file, head.APIVersion, head.Kind, apiVersion, kind)
	}
}

func load(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{}
	decodeStrict(t, "deployment.yaml", "apps/v1", "Deployment", &m.deployment)
	decodeStrict(t, "service.yaml", "v1", "Service", &m.service)
	decodeStrict(t, "secret.example.yaml", "v1", "Secret", &m.secret)
	decodeStrict(t, "configmap-realms.yaml", "v1", "ConfigMap", &m.configMap)
	decodeStrict(t, "pod-disruption-budget.yaml", "policy/v1", "PodDisruptionBudget", &m.pdb)
	decodeStrict(t, "kustomization.yaml", "kustomize.config.k8s.io/v1beta1", "Kustomization", &m.kustomization)
	return m
}

func (m *manifests) container(t *testing.T) corev1.Container {
	t.Helper()
	containers := m.deployment.Spec.Template.Spec.Containers
	if len(containers) != 1 {
		t.Fatalf("deployment: %d containers, expected 1", len(containers))
	}
	return containers[0]
}

// env is the literal value of a variable of the container ("" when absent or from a reference).
func env(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// containerPort resolves a probe's or Service's port (a number or a name) to a port the container declares.
func containerPort(t *testing.T, c corev1.Container, port intstr.IntOrString, where string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return p.ContainerPort
		}
	}
	t.Fatalf("%s: port %s is not a port of the container", where, port.String())
	return 0
}

// portOf is the container port that Tessera listens on according to the variable (TESSERA_PORT, TESSERA_GRPC_PORT).
func portOf(t *testing.T, c corev1.Container, variable string) int32 {
	t.Helper()
	value := env(c, variable)
	for _, p := range c.Ports {
		if value != "" && value == strconv.Itoa(int(p.ContainerPort)) {
			return p.ContainerPort
		}
	}
	t.Fatalf("%s=%q is not a port of the container", variable, value)
	return 0
}

func TestEveryManifestDecodesStrictlyAndIsListed(t *testing.T) {
	m := load(t)
	files, err := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	known := []string{"deployment.yaml", "service.yaml", "secret.example.yaml", "configmap-realms.yaml", "pod-disruption-budget.yaml", "kustomization.yaml"}
	for _, file := range files {
		if !slices.Contains(known, filepath.Base(file)) {
			t.Errorf("%s is not checked by this test", filepath.Base(file))
		}
	}
	for _, resource := range m.kustomization.Resources {
		if _, err := os.Stat(filepath.Join(manifestDir, resource)); err != nil {
			t.Errorf("kustomization.yaml: resource %s: %v", resource, err)
		}
	}
	// The example Secret holds placeholders: applying it with the rest would start pods on them.
	if slices.Contains(m.kustomization.Resources, "secret.example.yaml") {
		t.Error("kustomization.yaml must not apply secret.example.yaml")
	}
	image := m.container(t).Image
	if !slices.ContainsFunc(m.kustomization.Images, func(i kustomizationImage) bool {
		return strings.HasPrefix(image, i.Name+":") || image == i.Name
	}) {
		t.Errorf("kustomization.yaml: no images entry for the container's image %s", image)
	}
}

func TestProbesAskTesseraWhereItAnswers(t *testing.T) {
	m := load(t)
	c := m.container(t)
	httpPort, grpcPort := portOf(t, c, "TESSERA_PORT"), portOf(t, c, "TESSERA_GRPC_PORT")
	if env(c, "TESSERA_HOST") != "0.0.0.0" {
		t.Errorf("TESSERA_HOST=%q: the kubelet probes the pod IP, Tessera must listen on every interface", env(c, "TESSERA_HOST"))
	}
	for _, probe := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"livenessProbe", c.LivenessProbe, livenessPath}, {"readinessProbe", c.ReadinessProbe, readinessPath}} {
		if probe.probe == nil || probe.probe.HTTPGet == nil {
			t.Errorf("%s: expected an httpGet probe", probe.name)
			continue
		}
		if probe.probe.HTTPGet.Path != probe.path {
			t.Errorf("%s: path %s, Tessera answers it on %s", probe.name, probe.probe.HTTPGet.Path, probe.path)
		}
		if port := containerPort(t, c, probe.probe.HTTPGet.Port, probe.name); port != httpPort {
			t.Errorf("%s: port %d, Tessera's HTTP port is %d", probe.name, port, httpPort)
		}
	}
	if c.StartupProbe == nil || c.StartupProbe.GRPC == nil {
		t.Fatal("startupProbe: expected a gRPC health probe")
	}
	if c.StartupProbe.GRPC.Port != grpcPort {
		t.Errorf("startupProbe: gRPC port %d, TESSERA_GRPC_PORT is %d", c.StartupProbe.GRPC.Port, grpcPort)
	}
	// Probes are cleartext HTTP and gRPC: with TLS on the ports they would fail.
	if env(c, "TESSERA_TLS_CERT") != "" && c.LivenessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS {
		t.Error("TESSERA_TLS_CERT is set: the HTTP probes need scheme HTTPS")
	}
}

func TestPodRunsAsNonRootOnAReadOnlyFilesystemWithNoCapabilities(t *testing.T) {
	m := load(t)
	pod := m.deployment.Spec.Template.Spec
	c := m.container(t)
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("pod: runAsNonRoot expected")
	}
	if pod.SecurityContext.RunAsUser == nil || *pod.SecurityContext.RunAsUser == 0 {
		t.Error("pod: a non-zero runAsUser expected (the image's uid 1000)")
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("container: readOnlyRootFilesystem expected")
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("container: allowPrivilegeEscalation: false expected")
	}
	if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Error("container: capabilities drop [ALL] and add none expected")
	}
	for _, resource := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[resource]; !ok {
			t.Errorf("container: no %s request", resource)
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Error("container: no memory limit")
	}
}

func TestSecretsAndRealmFileComeFromObjectsThatHaveThem(t *testing.T) {
	m := load(t)
	c := m.container(t)
	refs := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		refs[e.Name] = ref.Key
		if ref.Name != m.secret.Name {
			t.Errorf("%s: Secret %s, the example Secret is %s", e.Name, ref.Name, m.secret.Name)
		}
		if _, ok := m.secret.StringData[ref.Key]; !ok {
			t.Errorf("%s: key %s is not in the example Secret", e.Name, ref.Key)
		}
	}
	// Secrets never as literal values in the Deployment.
	for _, name := range []string{"TESSERA_MASTER_KEY", "MONGODB_URI"} {
		if _, ok := refs[name]; !ok {
			t.Errorf("%s: expected from a secretKeyRef", name)
		}
	}
	for key, value := range m.secret.StringData {
		if !strings.Contains(value, "REPLACE-ME") {
			t.Errorf("secret.example.yaml: %s holds no REPLACE-ME placeholder", key)
		}
	}
	if env(c, "TESSERA_STORAGE") != "mongodb" && *m.deployment.Spec.Replicas > 1 {
		t.Error("more than one replica needs TESSERA_STORAGE=mongodb: memory storage gives each pod its own realms")
	}

	imports := env(c, "TESSERA_IMPORTS")
	var mount *corev1.VolumeMount
	for i, vm := range c.VolumeMounts {
		if strings.HasPrefix(imports, vm.MountPath+"/") {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil {
		t.Fatalf("TESSERA_IMPORTS=%s is under no volume mount", imports)
	}
	var volume *corev1.Volume
	for i, v := range m.deployment.Spec.Template.Spec.Volumes {
		if v.Name == mount.Name {
			volume = &m.deployment.Spec.Template.Spec.Volumes[i]
		}
	}
	if volume == nil || volume.ConfigMap == nil || volume.ConfigMap.Name != m.configMap.Name {
		t.Fatalf("TESSERA_IMPORTS: mount %s is not the ConfigMap %s", mount.Name, m.configMap.Name)
	}
	if _, ok := m.configMap.Data[strings.TrimPrefix(imports, mount.MountPath+"/")]; !ok {
		t.Errorf("TESSERA_IMPORTS=%s: no such key in ConfigMap %s", imports, m.configMap.Name)
	}
}

func TestServiceAndDisruptionBudgetReachThePods(t *testing.T) {
	m := load(t)
	c := m.container(t)
	labels := m.deployment.Spec.Template.Labels
	for key, value := range m.deployment.Spec.Selector.MatchLabels {
		if labels[key] != value {
			t.Errorf("deployment: selector %s=%s does not match the pod template", key, value)
		}
	}
	for key, value := range m.service.Spec.Selector {
		if labels[key] != value {
			t.Errorf("service: selector %s=%s selects no pod of the deployment", key, value)
		}
	}
	for key, value := range m.pdb.Spec.Selector.MatchLabels {
		if labels[key] != value {
			t.Errorf("pod disruption budget: selector %s=%s selects no pod of the deployment", key, value)
		}
	}
	served := map[int32]bool{}
	for _, p := range m.service.Spec.Ports {
		port := containerPort(t, c, p.TargetPort, "service port "+p.Name)
		served[port] = true
		if p.Port != port {
			t.Errorf("service port %s: %d in front of container port %d; the same number keeps URLs alike inside and out", p.Name, p.Port, port)
		}
	}
	for _, p := range c.Ports {
		if !served[p.ContainerPort] {
			t.Errorf("container port %s (%d) has no Service port", p.Name, p.ContainerPort)
		}
	}
	if m.pdb.Spec.MaxUnavailable == nil && m.pdb.Spec.MinAvailable == nil {
		t.Error("pod disruption budget: maxUnavailable or minAvailable expected")
	}
	if m.pdb.Spec.MinAvailable != nil && m.pdb.Spec.MinAvailable.Type == intstr.Int && m.pdb.Spec.MinAvailable.IntVal >= *m.deployment.Spec.Replicas {
		t.Error("pod disruption budget: minAvailable would block every drain")
	}
}
