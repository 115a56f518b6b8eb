using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using RagCluster.Api.Auth;
using RagCluster.Api.Limits;
using RagCluster.Grains.Embedding;
using RagCluster.Hosting;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests;

/// <summary>
/// deploy/helm/ragcluster, rendered by <see cref="HelmTemplate"/> (no helm binary is obtainable here) and checked
/// for the structure Kubernetes and the silos need: names that line up, probes on real endpoints, configuration
/// keys that bind to real options, graceful termination, GPU scheduling, and agreement with the Dockerfile.
/// </summary>
[Trait("Category", "Unit")]
public sealed class HelmChartTests
{
    private static readonly string Chart = Path.Combine(RepoPaths.Root, "deploy", "helm", "ragcluster");
    private const string Dsn = "database:\n  dsn: Host=pg;Username=rag;Password=x;Database=rag\nclustering:\n  redis: redis:6379\n";

    private static List<Dictionary<object, object?>> Render(string overrides = Dsn) => new HelmTemplate(Chart, "prod", "rag", overrides).Documents();

    private static Dictionary<object, object?> One(List<Dictionary<object, object?>> docs, string kind, string name) =>
        docs.Single(d => (string)d["kind"]! == kind && (string)Get(d, "metadata.name")! == name);

    private static object? Get(object? node, string path)
    {
        foreach (var key in path.Split('.'))
            node = node is Dictionary<object, object?> m && m.TryGetValue(key, out var v) ? v : null;
        return node;
    }

    private static Dictionary<object, object?> Map(object? o) => (Dictionary<object, object?>)o!;
    private static List<object?> List(object? o) => (List<object?>)o!;
    private static Dictionary<object, object?> Container(Dictionary<object, object?> workload) => Map(List(Get(workload, "spec.template.spec.containers"))[0]);

    [Fact]
    public void Defaults_render_every_object_with_matching_names_selectors_and_probes()
    {
        var docs = Render();
        var kinds = docs.Select(d => (string)d["kind"]!).Order().ToList();
        Assert.Equal(["Certificate", "Certificate", "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Issuer", "Issuer", "NetworkPolicy", "NetworkPolicy",
            "PodDisruptionBudget", "PodDisruptionBudget", "Role", "RoleBinding", "Secret", "Service", "Service", "ServiceAccount", "StatefulSet"], kinds);

        var silo = One(docs, "StatefulSet", "prod-ragcluster-silo");
        var headless = One(docs, "Service", "prod-ragcluster-silo");
        Assert.Equal("None", Get(headless, "spec.clusterIP"));
        Assert.Equal(true, Get(headless, "spec.publishNotReadyAddresses"));
        Assert.Equal(Get(silo, "spec.serviceName"), Get(headless, "metadata.name"));
        Assert.Equal(3L, Convert.ToInt64(Get(silo, "spec.replicas")));
        var siloLabels = Map(Get(silo, "spec.template.metadata.labels"));
        foreach (var selector in new[] { Get(silo, "spec.selector.matchLabels"), Get(headless, "spec.selector"), Get(One(docs, "PodDisruptionBudget", "prod-ragcluster-silo"), "spec.selector.matchLabels") })
            Assert.All(Map(selector), kv => Assert.Equal(kv.Value, siloLabels[kv.Key]));

        var api = One(docs, "Deployment", "prod-ragcluster-api");
        var apiLabels = Map(Get(api, "spec.template.metadata.labels"));
        foreach (var selector in new[] { Get(api, "spec.selector.matchLabels"), Get(One(docs, "Service", "prod-ragcluster-api"), "spec.selector"), Get(One(docs, "PodDisruptionBudget", "prod-ragcluster-api"), "spec.selector.matchLabels") })
            Assert.All(Map(selector), kv => Assert.Equal(kv.Value, apiLabels[kv.Key]));
        Assert.NotEqual(siloLabels["app.kubernetes.io/component"], apiLabels["app.kubernetes.io/component"]);
        Assert.Equal("prod-ragcluster-api", Get(One(docs, "HorizontalPodAutoscaler", "prod-ragcluster-api"), "spec.scaleTargetRef.name"));
        Assert.Equal("Deployment", Get(One(docs, "HorizontalPodAutoscaler", "prod-ragcluster-api"), "spec.scaleTargetRef.kind"));
        Assert.Null(Get(api, "spec.replicas")); // the HPA owns it

        // Probes hit the endpoints the processes serve, on ports the containers declare.
        foreach (var (workload, port) in new[] { (silo, "health"), (api, "http") })
        {
            var c = Container(workload);
            var ports = List(c["ports"]).Select(p => (string)Get(p, "name")!).ToList();
            Assert.Contains(port, ports);
            Assert.Contains("silo", ports);
            Assert.Equal("/health/live", Get(c, "livenessProbe.httpGet.path"));
            Assert.Equal("/health/ready", Get(c, "readinessProbe.httpGet.path"));
            Assert.Equal(port, Get(c, "readinessProbe.httpGet.port"));
            Assert.True(Convert.ToInt64(Get(workload, "spec.template.spec.terminationGracePeriodSeconds")) >= 30, "a silo needs time to leave gracefully");
            Assert.Equal(true, Get(workload, "spec.template.spec.securityContext.runAsNonRoot"));
            Assert.Equal("prod-ragcluster-config", Get(List(c["envFrom"])[0], "configMapRef.name"));
        }
        Assert.Equal(new List<object?> { "dotnet", "RagCluster.Silo.dll" }, List(Container(silo)["command"]));
        Assert.Equal(new List<object?> { "dotnet", "RagCluster.Api.dll" }, List(Container(api)["command"]));
        Assert.Equal("ghcr.io/ragcluster/ragcluster:0.1.0", Container(silo)["image"]); // tag defaults to appVersion
        // Silos advertise their stable StatefulSet DNS name; API pods their pod IP.
        Assert.Equal("$(POD_NAME).prod-ragcluster-silo.$(POD_NAMESPACE).svc.cluster.local", Env(Container(silo))["Silo__AdvertisedHost"]);
        Assert.Equal("$(POD_IP)", Env(Container(api))["Silo__AdvertisedHost"]);
        Assert.Equal("prod-ragcluster-secrets", Get(EnvEntry(Container(silo), "Silo__Storage"), "valueFrom.secretKeyRef.name"));
        var secret = One(docs, "Secret", "prod-ragcluster-secrets");
        Assert.Equal("Host=pg;Username=rag;Password=x;Database=rag", System.Text.Encoding.UTF8.GetString(Convert.FromBase64String((string)Get(secret, "data.dsn")!)));
        // Membership in Redis, for silos and API pods alike; the Orleans gateway on the StatefulSet silos only.
        Assert.Equal("redis:6379", System.Text.Encoding.UTF8.GetString(Convert.FromBase64String((string)Get(secret, "data.redis")!)));
        foreach (var workload in new[] { silo, api })
            Assert.Equal("prod-ragcluster-secrets", Get(EnvEntry(Container(workload), "Silo__Redis"), "valueFrom.secretKeyRef.name"));
        var config = Map(Get(One(docs, "ConfigMap", "prod-ragcluster-config"), "data"));
        Assert.Equal("redis", config["Silo__Clustering"]);
        Assert.Equal("30000", config["Silo__GatewayPort"]);
        Assert.Equal("00:00:05", config["Silo__Membership__ProbeTimeout"]);
        Assert.Contains(List(Container(silo)["ports"]), p => (string?)Get(p, "name") == "gateway" && Convert.ToInt64(Get(p, "containerPort")) == 30000);
        Assert.Contains(List(Get(headless, "spec.ports")), p => (string?)Get(p, "name") == "gateway");
        Assert.Equal("0", Env(Container(api))["Silo__GatewayPort"]);
    }

    private static Dictionary<object, object?> EnvEntry(Dictionary<object, object?> container, string name) =>
        Map(List(container["env"]).Single(e => (string)Get(e, "name")! == name));

    private static Dictionary<string, string?> Env(Dictionary<object, object?> container) =>
        List(container["env"]).ToDictionary(e => (string)Get(e, "name")!, e => Get(e, "value")?.ToString());

    /// <summary>
    /// Every combination of the chart's switches (Kubernetes hosting, embedding silos, network policy, silo and API
    /// autoscaling: 32 renderings), each parsed and checked for what Kubernetes and the silos need.
    /// </summary>
    [Fact]
    public void Every_combination_of_the_switches_renders_workloads_services_probes_env_and_rbac_that_fit_together()
    {
        var renderings = 0;
        foreach (var k8s in new[] { true, false })
        foreach (var embedding in new[] { true, false })
        foreach (var policy in new[] { true, false })
        foreach (var siloScaling in new[] { true, false })
        foreach (var apiScaling in new[] { true, false })
        {
            var switches = $"k8s {k8s}, embedding silos {embedding}, network policy {policy}, silo autoscaling {siloScaling}, api autoscaling {apiScaling}";
            var docs = Render(Dsn + $"kubernetesHosting:\n  enabled: {Yaml(k8s)}\nembeddingSilos:\n  enabled: {Yaml(embedding)}\nnetworkPolicy:\n  enabled: {Yaml(policy)}\n" +
                              $"silo:\n  autoscaling:\n    enabled: {Yaml(siloScaling)}\napi:\n  autoscaling:\n    enabled: {Yaml(apiScaling)}\n");
            renderings++;
            var config = Map(Get(docs.Single(d => (string)d["kind"]! == "ConfigMap"), "data"));
            Assert.True(Yaml(k8s) == (string?)config["Silo__Kubernetes"], switches);
            var workloads = docs.Where(d => (string)d["kind"]! is "Deployment" or "StatefulSet").ToList();
            Assert.True((embedding ? 3 : 2) == workloads.Count, switches);
            Assert.True((policy ? 2 : 0) == docs.Count(d => (string)d["kind"]! == "NetworkPolicy"), switches);
            var autoscaled = docs.Where(d => (string)d["kind"]! == "HorizontalPodAutoscaler").Select(d => (string)Get(d, "spec.scaleTargetRef.name")!).ToList();
            Assert.True((siloScaling ? 1 : 0) + (apiScaling ? 1 : 0) == autoscaled.Count, switches);

            var account = $"prod-ragcluster-silo";
            foreach (var workload in workloads)
            {
                var name = $"{switches}: {Get(workload, "metadata.name")}";
                var labels = Map(Get(workload, "spec.template.metadata.labels"));
                Assert.All(Map(Get(workload, "spec.selector.matchLabels")), kv => Assert.Equal(kv.Value, labels.GetValueOrDefault(kv.Key)));
                Assert.True(autoscaled.Contains((string)Get(workload, "metadata.name")!) == (Get(workload, "spec.replicas") is null), $"{name}: replicas set although autoscaled, or missing");
                var container = Container(workload);
                foreach (var probe in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
                    Assert.True(((string?)Get(container, $"{probe}.httpGet.path"))?.StartsWith("/health/") == true, $"{name}: {probe}");
                var env = List(container["env"]).Select(Map).ToDictionary(e => (string)e["name"]!, e => e);
                foreach (var (variable, field) in new[] { ("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace"), ("POD_IP", "status.podIP") })
                    Assert.True(field == (string?)Get(env.GetValueOrDefault(variable), "valueFrom.fieldRef.fieldPath"), $"{name}: {variable} from the downward API");
                // Orleans' Kubernetes hosting selects a release's silo pods by these labels, and reads them as this account.
                Assert.True(Equals(k8s ? config["Silo__ClusterId"] : null, labels.GetValueOrDefault("orleans/clusterId")), $"{name}: orleans/clusterId");
                Assert.True(Equals(k8s ? config["Silo__ServiceId"] : null, labels.GetValueOrDefault("orleans/serviceId")), $"{name}: orleans/serviceId");
                Assert.True((k8s ? account : null) == (string?)Get(workload, "spec.template.spec.serviceAccountName"), $"{name}: service account");
            }
            foreach (var service in docs.Where(d => (string)d["kind"]! == "Service"))
                Assert.True(1 == workloads.Count(w => Map(Get(service, "spec.selector")).All(kv => Equals(kv.Value, Map(Get(w, "spec.template.metadata.labels")).GetValueOrDefault(kv.Key)))),
                    $"{switches}: service {Get(service, "metadata.name")} selects one workload's pods");

            var rbac = docs.Where(d => (string)d["kind"]! is "ServiceAccount" or "Role" or "RoleBinding").ToList();
            if (!k8s)
            {
                Assert.True(rbac.Count == 0, $"{switches}: RBAC without Kubernetes hosting");
                continue;
            }
            Assert.Equal(3, rbac.Count);
            One(docs, "ServiceAccount", account);
            var rule = Map(Assert.Single(List(Get(One(docs, "Role", "prod-ragcluster-pods"), "rules"))));
            Assert.Equal(["pods"], List(rule["resources"]).Cast<string>());
            Assert.Equal(["get", "list", "watch", "patch"], List(rule["verbs"]).Cast<string>());
            var binding = One(docs, "RoleBinding", "prod-ragcluster-pods");
            var subject = Map(Assert.Single(List(Get(binding, "subjects"))));
            Assert.Equal(("ServiceAccount", account, "rag"), ((string)subject["kind"]!, (string)subject["name"]!, (string)subject["namespace"]!));
            Assert.Equal(("Role", "prod-ragcluster-pods"), ((string)Get(binding, "roleRef.kind")!, (string)Get(binding, "roleRef.name")!));
        }
        Assert.Equal(32, renderings);

        static string Yaml(bool b) => b ? "true" : "false";
    }

    [Fact]
    public void Every_configuration_key_the_chart_sets_binds_to_a_real_option()
    {
        var docs = Render("database:\n  existingSecret: pg\nclustering:\n  existingSecret: membership\nauth:\n  jwt:\n    signingKey: 0123456789abcdef0123456789abcdef!!\n");
        var keys = Map(Get(One(docs, "ConfigMap", "prod-ragcluster-config"), "data")).Keys.Cast<string>()
            .Concat(docs.Where(d => d["kind"] is "StatefulSet" or "Deployment").SelectMany(d => List(Container(d)["env"]).Select(e => (string)Get(e, "name")!)))
            .Distinct().ToList();
        var sections = new Dictionary<string, Type>
        {
            ["Silo"] = typeof(SiloOptions), ["Embedding"] = typeof(EmbeddingOptions), ["Auth"] = typeof(AuthOptions), ["RateLimit"] = typeof(RateLimitOptions),
            ["Network"] = typeof(RagCluster.Api.Network.NetworkOptions),
        };
        var plain = new HashSet<string> { "POD_NAME", "POD_NAMESPACE", "POD_IP", "HOME", "ASPNETCORE_URLS", "Storage__Path", "Health__Port" };
        foreach (var key in keys)
        {
            if (plain.Contains(key)) continue;
            var parts = key.Split("__");
            Assert.True(sections.TryGetValue(parts[0], out var type), $"{key}: no options section '{parts[0]}'");
            foreach (var part in parts.Skip(1))
            {
                var property = type!.GetProperty(part);
                Assert.True(property is not null, $"{key}: {type.Name} has no property {part}");
                type = property!.PropertyType;
            }
        }
        // Storage__Path must be cleared: the image sets it (embedded SQLite), which would override the PostgreSQL store.
        Assert.Contains("Storage__Path=/data", File.ReadAllText(Path.Combine(RepoPaths.Root, "Dockerfile")));
        Assert.Equal("", Get(One(docs, "ConfigMap", "prod-ragcluster-config"), "data.Storage__Path"));
        Assert.Equal("pg", Get(EnvEntry(Container(One(docs, "StatefulSet", "prod-ragcluster-silo")), "Silo__Storage"), "valueFrom.secretKeyRef.name"));
        Assert.Equal("membership", Get(EnvEntry(Container(One(docs, "StatefulSet", "prod-ragcluster-silo")), "Silo__Redis"), "valueFrom.secretKeyRef.name"));
        Assert.Null(Get(One(docs, "Secret", "prod-ragcluster-secrets"), "data.redis"));
    }

    [Fact]
    public void Embedding_silos_request_the_gpu_land_on_gpu_nodes_and_the_rest_of_the_cluster_stops_embedding()
    {
        var docs = Render(Dsn + "embeddingSilos:\n  enabled: true\n  replicas: 5\n  image: ghcr.io/ragcluster/ragcluster:0.1.0-gpu\n  gpu:\n    count: 2\n");
        var embedding = One(docs, "StatefulSet", "prod-ragcluster-embedding");
        var c = Container(embedding);
        Assert.Equal(5L, Convert.ToInt64(Get(embedding, "spec.replicas")));
        Assert.Equal("ghcr.io/ragcluster/ragcluster:0.1.0-gpu", c["image"]);
        Assert.Equal(2L, Convert.ToInt64(Map(Get(c, "resources.limits"))["nvidia.com/gpu"]));
        Assert.Equal("8Gi", Get(c, "resources.limits.memory"));
        Assert.Equal("true", Map(Get(embedding, "spec.template.spec.nodeSelector"))["nvidia.com/gpu.present"]?.ToString());
        Assert.Contains(List(Get(embedding, "spec.template.spec.tolerations")), t => (string?)Get(t, "key") == "nvidia.com/gpu");
        Assert.Equal("cuda", Env(c)["Embedding__ExecutionProvider"]);
        Assert.Equal("embedding", Env(c)["Silo__Roles"]);
        Assert.Equal("0", Env(c)["Silo__GatewayPort"]);
        Assert.Equal("/health/ready", Get(c, "readinessProbe.httpGet.path"));
        // Its headless service names its pods, which they advertise; the other silos' selectors do not take them in.
        var headless = One(docs, "Service", "prod-ragcluster-embedding");
        Assert.Equal(Get(embedding, "spec.serviceName"), Get(headless, "metadata.name"));
        Assert.Equal("$(POD_NAME).prod-ragcluster-embedding.$(POD_NAMESPACE).svc.cluster.local", Env(c)["Silo__AdvertisedHost"]);
        var labels = Map(Get(embedding, "spec.template.metadata.labels"));
        Assert.All(Map(Get(headless, "spec.selector")), kv => Assert.Equal(kv.Value, labels[kv.Key]));
        Assert.NotEqual("embedding", Map(Get(One(docs, "Service", "prod-ragcluster-silo"), "spec.selector"))["app.kubernetes.io/component"]);
        // The rest of the cluster is as without it, except that it offers no role, and stays off the GPU nodes.
        foreach (var other in new[] { One(docs, "StatefulSet", "prod-ragcluster-silo"), One(docs, "Deployment", "prod-ragcluster-api") })
        {
            Assert.Equal("none", Env(Container(other))["Silo__Roles"]);
            Assert.Null(Get(other, "spec.template.spec.nodeSelector"));
            Assert.Null(Get(Container(other), "resources.limits.nvidia.com/gpu"));
        }
        // Their PostgreSQL pools count in the connection budget: (100 - 10) / (3 + 10 + 5) = 5 (6 without them).
        Assert.Equal("5", Get(One(docs, "ConfigMap", "prod-ragcluster-config"), "data.Silo__StoragePoolSize"));

        // Off (the default): no embedding silos, and every silo keeps every role.
        var plain = Render();
        Assert.DoesNotContain(plain, d => (string?)Get(d, "metadata.name") == "prod-ragcluster-embedding");
        Assert.False(Env(Container(One(plain, "StatefulSet", "prod-ragcluster-silo"))).ContainsKey("Silo__Roles"));
        Assert.False(Env(Container(One(plain, "Deployment", "prod-ragcluster-api"))).ContainsKey("Silo__Roles"));
    }

    [Fact]
    public void Tls_is_on_with_a_certificate_cert_manager_writes_and_every_silo_pod_mounts_or_with_a_secret_brought_by_hand()
    {
        var docs = Render(Dsn + "embeddingSilos:\n  enabled: true\n");
        var config = Map(Get(One(docs, "ConfigMap", "prod-ragcluster-config"), "data"));
        var certificate = One(docs, "Certificate", "prod-ragcluster-tls");
        Assert.Equal("prod-ragcluster-tls", Get(certificate, "spec.secretName"));
        Assert.Equal(["digital signature", "key encipherment", "server auth", "client auth"], List(Get(certificate, "spec.usages")).Cast<string>());
        // No issuer named: the release's own CA, itself signed by a self-signed issuer.
        Assert.Equal("prod-ragcluster-ca", Get(certificate, "spec.issuerRef.name"));
        Assert.Equal("prod-ragcluster-ca", Get(One(docs, "Issuer", "prod-ragcluster-ca"), "spec.ca.secretName"));
        Assert.Equal(true, Get(One(docs, "Certificate", "prod-ragcluster-ca"), "spec.isCA"));
        Assert.Equal("prod-ragcluster-selfsigned", Get(One(docs, "Certificate", "prod-ragcluster-ca"), "spec.issuerRef.name"));
        // Every pod that runs a silo mounts that Secret where the configuration's three paths point.
        foreach (var workload in new[] { One(docs, "StatefulSet", "prod-ragcluster-silo"), One(docs, "Deployment", "prod-ragcluster-api"), One(docs, "StatefulSet", "prod-ragcluster-embedding") })
        {
            var volume = List(Get(workload, "spec.template.spec.volumes")).Single(v => (string?)Get(v, "name") == "tls");
            Assert.Equal("prod-ragcluster-tls", Get(volume, "secret.secretName"));
            var mount = List(Container(workload)["volumeMounts"]).Single(m => (string?)Get(m, "name") == "tls");
            Assert.Equal(true, Get(mount, "readOnly"));
            foreach (var (key, file) in new[] { ("Certificate", "tls.crt"), ("Key", "tls.key"), ("CertificateAuthority", "ca.crt") })
                Assert.Equal($"{Get(mount, "mountPath")}/{file}", config[$"Silo__Tls__{key}"]);
        }

        // Your issuer: no CA of the release's own.
        var corp = Render(Dsn + "tls:\n  certManager:\n    issuerRef:\n      name: corp-ca\n      kind: ClusterIssuer\n      group: cert-manager.io\n");
        Assert.DoesNotContain(corp, d => (string)d["kind"]! == "Issuer");
        Assert.Equal("corp-ca", Get(One(corp, "Certificate", "prod-ragcluster-tls"), "spec.issuerRef.name"));
        Assert.Equal("ClusterIssuer", Get(One(corp, "Certificate", "prod-ragcluster-tls"), "spec.issuerRef.kind"));
        // A Secret brought by hand: no cert-manager objects at all.
        var own = Render(Dsn + "tls:\n  secretName: my-silo-tls\n");
        Assert.DoesNotContain(own, d => (string)d["kind"]! is "Issuer" or "Certificate");
        Assert.Equal("my-silo-tls", Get(List(Get(One(own, "StatefulSet", "prod-ragcluster-silo"), "spec.template.spec.volumes")).Single(v => (string?)Get(v, "name") == "tls"), "secret.secretName"));
        Assert.Contains("tls.secretName", Assert.Throws<InvalidOperationException>(() => Render(Dsn + "tls:\n  certManager:\n    enabled: false\n")).Message);
        // Off: no keys, no volume, no certificates.
        var off = Render(Dsn + "tls:\n  enabled: false\n");
        Assert.DoesNotContain(Map(Get(One(off, "ConfigMap", "prod-ragcluster-config"), "data")).Keys, k => ((string)k).StartsWith("Silo__Tls__"));
        Assert.DoesNotContain(List(Get(One(off, "StatefulSet", "prod-ragcluster-silo"), "spec.template.spec.volumes")), v => (string?)Get(v, "name") == "tls");
        Assert.DoesNotContain(off, d => (string)d["kind"]! is "Issuer" or "Certificate");
    }

    [Fact]
    public void The_connection_budget_is_derived_or_checked_for_silos_and_api_pods_at_their_maxima()
    {
        // database.* lines go under the one "database:" key (with the DSN every render needs); the rest as given.
        string Pool(string database, string other = "") => (string)Get(One(Render(
            $"database:\n  dsn: Host=pg;Username=rag;Password=x;Database=rag\n{database}clustering:\n  redis: redis:6379\n{other}"),
            "ConfigMap", "prod-ragcluster-config"), "data.Silo__StoragePoolSize")!;
        // Defaults: 3 silos + an API autoscaled to 10 pods = 13 pools in (100 - 10) connections.
        Assert.Equal("6", Pool(""));
        // Silos autoscaled to 12 as well: 22 pools.
        Assert.Equal("4", Pool("", "silo:\n  autoscaling:\n    enabled: true\n"));
        // A bigger server, no API autoscaler: (400 - 20) / (3 + 2).
        Assert.Equal("76", Pool("  maxConnections: 400\n  reservedConnections: 20\n", "api:\n  autoscaling:\n    enabled: false\n"));
        // Set by hand: kept when it fits, refused when it does not.
        Assert.Equal("5", Pool("  poolSize: 5\n"));
        var over = Assert.Throws<InvalidOperationException>(() => Pool("  poolSize: 10\n")).Message;
        Assert.Contains("database.poolSize 10 x 13 pods (silos and API pods at their maximum) = 130 connections, more than database.maxConnections 100 minus database.reservedConnections 10", over);
        Assert.Contains("PgBouncer", over);
        var starved = Assert.Throws<InvalidOperationException>(() => Pool("  maxConnections: 40\n", "silo:\n  autoscaling:\n    enabled: true\n")).Message;
        Assert.Contains("database.maxConnections 40 minus database.reservedConnections 10 leaves fewer than 2 connections for each of 22 pods", starved);
    }

    [Fact]
    public void Store_choices_and_their_mistakes()
    {
        var bundled = Render("postgresql:\n  enabled: true\n  auth:\n    password: s3cret\nredis:\n  enabled: true\n  auth:\n    password: r3d\n");
        string Secret(string key) => System.Text.Encoding.UTF8.GetString(Convert.FromBase64String((string)Get(One(bundled, "Secret", "prod-ragcluster-secrets"), "data." + key)!));
        Assert.Equal("Host=prod-postgresql;Port=5432;Username=ragcluster;Password=s3cret;Database=ragcluster", Secret("dsn"));
        Assert.Equal("prod-redis-master:6379,password=r3d", Secret("redis"));
        var chart = File.ReadAllText(Path.Combine(Chart, "Chart.yaml"));
        Assert.Contains("condition: postgresql.enabled", chart);
        Assert.Contains("condition: redis.enabled", chart);
        var none = Assert.Throws<InvalidOperationException>(() => Render(""));
        Assert.Contains("set database.dsn, database.existingSecret or postgresql.enabled", none.Message);
        Assert.Contains("postgresql.auth.password is required", Assert.Throws<InvalidOperationException>(() => Render("postgresql:\n  enabled: true\n")).Message);
        var noRedis = Assert.Throws<InvalidOperationException>(() => Render("database:\n  dsn: Host=pg\n"));
        Assert.Contains("set clustering.redis, clustering.existingSecret or redis.enabled", noRedis.Message);
        Assert.Contains("redis.auth.password is required", Assert.Throws<InvalidOperationException>(() => Render("database:\n  dsn: Host=pg\nredis:\n  enabled: true\n")).Message);
        // Silo autoscaling: an HPA on the StatefulSet that removes one silo at a time; replicas left to it.
        var scaled = Render(Dsn + "silo:\n  autoscaling:\n    enabled: true\n");
        var hpa = One(scaled, "HorizontalPodAutoscaler", "prod-ragcluster-silo");
        Assert.Equal("StatefulSet", Get(hpa, "spec.scaleTargetRef.kind"));
        Assert.Equal(1L, Convert.ToInt64(Get(List(Get(hpa, "spec.behavior.scaleDown.policies"))[0], "value")));
        Assert.Null(Get(One(scaled, "StatefulSet", "prod-ragcluster-silo"), "spec.replicas"));
    }

    [Fact]
    public void Network_policy_keeps_the_silo_port_inside_the_release_and_the_chart_agrees_with_the_dockerfile()
    {
        var docs = Render();
        var siloPolicy = One(docs, "NetworkPolicy", "prod-ragcluster-silo");
        var rule = List(Get(siloPolicy, "spec.ingress"))[0];
        Assert.Equal(11111L, Convert.ToInt64(Get(List(Get(rule, "ports"))[0], "port")));
        Assert.Equal("prod", Map(Get(List(Get(rule, "from"))[0], "podSelector.matchLabels"))["app.kubernetes.io/instance"]);
        var dockerfile = File.ReadAllText(Path.Combine(RepoPaths.Root, "Dockerfile"));
        var exposed = Regex.Match(dockerfile, @"^EXPOSE (.+)$", RegexOptions.Multiline).Groups[1].Value.Split(' ').Select(long.Parse).ToHashSet();
        foreach (var workload in docs.Where(d => d["kind"] is "StatefulSet" or "Deployment"))
            foreach (var port in List(Container(workload)["ports"]))
                Assert.Contains(Convert.ToInt64(Get(port, "containerPort")), exposed);
        Assert.Matches(@"useradd --system --uid 10001", dockerfile);
        Assert.Equal(10001L, Convert.ToInt64(Get(One(docs, "Deployment", "prod-ragcluster-api"), "spec.template.spec.securityContext.runAsUser")));
        // A read-only root filesystem needs a writable /tmp (backups are staged there) and HOME pointing at it.
        Assert.Equal(true, Get(Container(One(docs, "Deployment", "prod-ragcluster-api")), "securityContext.readOnlyRootFilesystem"));
        Assert.Contains(List(Get(Container(One(docs, "Deployment", "prod-ragcluster-api")), "volumeMounts")), m => (string?)Get(m, "mountPath") == "/tmp");
        Assert.Equal("/tmp", Get(One(docs, "ConfigMap", "prod-ragcluster-config"), "data.HOME"));
        // The install notes say how to scale and where the first admin key is printed.
        var notes = new HelmTemplate(Chart, "prod", "rag", Dsn).RenderFile("NOTES.txt");
        Assert.Contains("kubectl -n rag scale statefulset/prod-ragcluster-silo --replicas=5", notes);
        Assert.Contains("kubectl -n rag logs deploy/prod-ragcluster-api | grep \"Bootstrap operator key\"", notes);
    }
}

/// <summary>The health port the chart probes, on a real silo process (so not in the unit half).</summary>
public sealed class SiloHealthPortTests
{
    [Fact]
    public async Task A_silo_process_answers_kubelet_style_probes_and_scrapes_on_its_health_port()
    {
        int port;
        using (var l = new TcpListener(IPAddress.Loopback, 0)) { l.Start(); port = ((IPEndPoint)l.LocalEndpoint).Port; }
        var dir = Directory.CreateTempSubdirectory("rc-health").FullName;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "RagCluster.Silo.dll"), "--Silo:Storage", $"sqlite:{dir}/s.db", "--Silo:SiloPort", Ports.Free().ToString(), "--Silo:GatewayPort", "0",
                     "--Silo:ClusterId", "health", "--Health:Port", port.ToString(), "--Health:ListenAddress", "127.0.0.1" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            // HTTP/1.1, as kubelet probes.
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), DefaultRequestVersion = HttpVersion.Version11 };
            HttpResponseMessage? ready = null;
            for (var i = 0; i < 150 && ready?.StatusCode != HttpStatusCode.OK; i++)
            {
                try { ready = await http.GetAsync("health/ready"); }
                catch (HttpRequestException) { await Task.Delay(100); }
            }
            Assert.Equal(HttpStatusCode.OK, ready?.StatusCode);
            Assert.Contains("\"membership\":true", await ready!.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health/live")).StatusCode);
            // Prometheus scrapes the silo on the same port: Orleans' meters and ours, from the silo's meter provider.
            var samples = PrometheusText.Parse(await http.GetStringAsync("metrics"));
            Assert.Contains(samples, s => s.Name == "orleans_catalog_activations");
            Assert.Contains(samples, s => s.Name == "dotnet_process_memory_working_set_bytes");
        }
        finally
        {
            p.Kill(true);
            p.WaitForExit(10_000);
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }
}
