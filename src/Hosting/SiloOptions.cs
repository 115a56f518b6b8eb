namespace RagCluster.Hosting;

/// <summary>
/// How a silo joins its cluster, bound from the "Silo" section (appsettings, env <c>Silo__SiloPort</c>,
/// or <c>--Silo:SiloPort</c>). Three ways to run follow from <see cref="Storage"/> and <see cref="Clustering"/>:
/// the embedded default (SQLite, localhost clustering), a cluster (PostgreSQL + Redis), or one process in memory.
/// </summary>
public sealed class SiloOptions
{
    /// <summary>Silos with the same cluster id and membership store form one cluster.</summary>
    public string ClusterId { get; set; } = "dev";

    /// <summary>Scopes grain state; keep it across redeployments. Defaults to the cluster id.</summary>
    public string? ServiceId { get; set; }

    /// <summary><c>sqlite:PATH</c> (embedded default), <c>memory</c> (one process), or a PostgreSQL connection string.</summary>
    public string Storage { get; set; } = "sqlite:./data/ragcluster.db";

    /// <summary>
    /// PostgreSQL only: the most connections this silo opens. Every silo's pool comes out of the server's
    /// max_connections, so keep silos x StoragePoolSize at or below max_connections minus a reserve (superuser and
    /// admin sessions). Null: the connection string's Maximum Pool Size, else 20. Storage work beyond it waits for a
    /// free connection (up to the connection string's Timeout) instead of being refused by the server.
    /// </summary>
    public int? StoragePoolSize { get; set; }

    /// <summary><c>auto</c> (Redis when <see cref="Redis"/> is set, else localhost), <c>localhost</c> (one silo), or <c>redis</c>.</summary>
    public string Clustering { get; set; } = "auto";

    /// <summary>StackExchange.Redis configuration for membership, e.g. <c>127.0.0.1:6379</c>.</summary>
    public string? Redis { get; set; }

    /// <summary>
    /// Running in Kubernetes pods (Orleans' Kubernetes hosting; on in the Helm chart): each silo watches its release's
    /// pods, so a silo whose pod is deleted leaves the membership at once instead of after failed probes. Needs the
    /// POD_NAME and POD_NAMESPACE variables (the downward API) and a service account that may get, list, watch and patch
    /// pods. A multi-silo (Redis) setting only.
    /// </summary>
    public bool Kubernetes { get; set; }

    /// <summary>Interface the silo and gateway ports bind to.</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>Address other silos use to reach this one (an IP or a DNS name); defaults to <see cref="ListenAddress"/>.</summary>
    public string? AdvertisedHost { get; set; }

    /// <summary>Silo-to-silo port (a fixed one: other silos find it in the membership table).</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>
    /// How often an index shard or cache partition checks that it lives on its rendezvous home, and moves there if
    /// a silo joined or left (0: never move a live grain; placement still spreads new activations).
    /// </summary>
    public TimeSpan HomeCheckPeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gateway port for Orleans clients (0: no gateway).</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>How long a caller waits for a grain call (Orleans' response timeout).</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Idle activations are deactivated after this long.</summary>
    public TimeSpan CollectionAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Grain locations each silo caches (Orleans' GrainDirectoryOptions.CacheSize). Orleans' default, 1,000,000, sizes
    /// the cache's dictionary up front, and its size gauge walks every slot whenever Orleans' metrics are read: once a
    /// second for the dashboard, 3 % of a core across an idle 3-silo cluster (bench/results, issue 11).
    /// </summary>
    public int DirectoryCacheSize { get; set; } = 100_000;

    /// <summary>
    /// What this silo offers, comma-separated: <c>embedding</c> (it runs the model; embedding is placed only on such
    /// silos), or <c>none</c>. Unset: every role, so a cluster of one kind of silo needs nothing here. A GPU cluster
    /// gives its GPU silos <c>embedding</c> and the others <c>none</c>; see docs/kubernetes-and-gpu.md, "GPU".
    /// </summary>
    public string? Roles { get; set; }

    /// <summary>Failure detection (Orleans' ClusterMembershipOptions); see docs/cluster.md, "Failure detection".</summary>
    public MembershipSettings Membership { get; set; } = new();

    /// <summary>Mutual TLS between silos and on the gateway (off unless its files are set); see docs/tls.md.</summary>
    public Tls.TlsSettings Tls { get; set; } = new();

    public string EffectiveServiceId => string.IsNullOrWhiteSpace(ServiceId) ? ClusterId : ServiceId;

    /// <summary>Checks values a person may have mistyped, with messages that say which key to fix.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ClusterId)) throw new ArgumentException("Silo:ClusterId must not be empty");
        if (SiloPort is < 1 or > 65535) throw new ArgumentException($"Silo:SiloPort {SiloPort} is not a TCP port (1-65535; Orleans needs a fixed one)");
        if (GatewayPort is < 0 or > 65535) throw new ArgumentException($"Silo:GatewayPort {GatewayPort} is not a TCP port");
        if (HomeCheckPeriod < TimeSpan.Zero) throw new ArgumentException("Silo:HomeCheckPeriod must not be negative");
        if (CallTimeout <= TimeSpan.Zero) throw new ArgumentException("Silo:CallTimeout must be positive");
        if (CollectionAge < TimeSpan.FromMinutes(1)) throw new ArgumentException("Silo:CollectionAge must be at least one minute");
        if (StoragePoolSize is < 1 or > 1000) throw new ArgumentException($"Silo:StoragePoolSize {StoragePoolSize} must be 1..1000 connections");
        if (DirectoryCacheSize is < 0 or > 10_000_000) throw new ArgumentException("Silo:DirectoryCacheSize must be 0 (no cache) to 10000000");
        if (Clustering is not ("auto" or "localhost" or "redis")) throw new ArgumentException($"Silo:Clustering '{Clustering}' is not auto, localhost or redis");
        if (Clustering == "redis" && string.IsNullOrWhiteSpace(Redis)) throw new ArgumentException("Silo:Clustering is redis but Silo:Redis (e.g. 127.0.0.1:6379) is not set");
        if (Kubernetes && !UsesRedis) throw new ArgumentException("Silo:Kubernetes is true but the silo is not clustered: set Silo:Redis too");
        if (Kubernetes && (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("POD_NAME")) || string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("POD_NAMESPACE"))))
            throw new ArgumentException("Silo:Kubernetes is true but POD_NAME or POD_NAMESPACE is not set (the Helm chart sets both from the downward API)");
        RagCluster.Grains.Placement.SiloRoles.Parse(Roles);
        Membership.Validate();
        Tls.Validate();
    }

    public bool UsesRedis => Clustering == "redis" || (Clustering == "auto" && !string.IsNullOrWhiteSpace(Redis));
}

/// <summary>
/// Orleans' failure detection: each silo probes <see cref="NumProbedSilos"/> others every <see cref="ProbeTimeout"/>;
/// after <see cref="NumMissedProbesLimit"/> missed probes it votes the silo dead, and <see cref="NumVotesForDeathDeclaration"/>
/// votes (younger than <see cref="DeathVoteExpiration"/>) declare it dead. The defaults detect a dead silo in about
/// 3 x 2 s = 6 s plus a table round trip, and tolerate a silo that stalls for up to 2 s (several silos on 2 cores).
/// Orleans' own defaults (5 s probes, 3 misses, 2 of 10 probers) take about 3 x 5 s and are kinder to overloaded hosts.
/// </summary>
public sealed class MembershipSettings
{
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);
    public int NumMissedProbesLimit { get; set; } = 3;
    public int NumProbedSilos { get; set; } = 3;
    public int NumVotesForDeathDeclaration { get; set; } = 2;
    public TimeSpan DeathVoteExpiration { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>How often a silo writes its IAmAlive time into the membership table (Orleans' default: 30 s).</summary>
    public TimeSpan IAmAlivePeriod { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>How often a silo re-reads the membership table.</summary>
    public TimeSpan TableRefresh { get; set; } = TimeSpan.FromSeconds(2);

    public void Validate()
    {
        if (ProbeTimeout < TimeSpan.FromMilliseconds(100)) throw new ArgumentException("Silo:Membership:ProbeTimeout must be at least 100 ms");
        if (NumMissedProbesLimit < 1) throw new ArgumentException("Silo:Membership:NumMissedProbesLimit must be at least 1");
        if (NumVotesForDeathDeclaration < 1) throw new ArgumentException("Silo:Membership:NumVotesForDeathDeclaration must be at least 1");
        if (NumProbedSilos < NumVotesForDeathDeclaration) throw new ArgumentException("Silo:Membership:NumProbedSilos must be at least NumVotesForDeathDeclaration");
    }
}
