namespace RagCluster.Runtime.Hosting;

/// <summary>Silo configuration, bound from the "Silo" section (appsettings, or env vars such as Silo__SiloPort).</summary>
public sealed class SiloOptions
{
    /// <summary>Silos with the same cluster id and store form one cluster.</summary>
    public string ClusterId { get; set; } = "dev";

    /// <summary>Scopes grain state; stays the same across redeployments of a cluster. Defaults to the cluster id.</summary>
    public string? ServiceId { get; set; }

    /// <summary><c>sqlite:PATH</c> (embedded default), <c>memory</c> (single process), or a PostgreSQL connection string.</summary>
    public string Storage { get; set; } = "sqlite:./data/ragcluster.db";

    /// <summary>Interface the silo-to-silo endpoint binds to.</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>Address other silos and clients use to reach this one; defaults to <see cref="ListenAddress"/> (set it in containers).</summary>
    public string? AdvertisedHost { get; set; }

    /// <summary>Port of the h2c silo endpoint (silo-to-silo and client gateway); 0 picks a free one.</summary>
    public int SiloPort { get; set; } = 11111;

    public TimeSpan HeartbeatPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A silo whose heartbeat is older than this is declared dead by the others.</summary>
    public TimeSpan DeathTimeout { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>Default time a caller waits for a grain call.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Activations idle this long are deactivated.</summary>
    public TimeSpan CollectionAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often idle activations are looked for.</summary>
    public TimeSpan CollectionQuantum { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long OnDeactivateAsync may run before it is abandoned.</summary>
    public TimeSpan DeactivationTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Largest message accepted on the wire; bigger ones are refused with 413.</summary>
    public int MaxMessageBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>Silo-to-silo forwards a call may take before the caller is told to retry.</summary>
    public int MaxForwardHops { get; set; } = 3;

    /// <summary>Extra assemblies (paths) to scan for grain classes, e.g. for test grains.</summary>
    public List<string> GrainAssemblies { get; set; } = [];

    internal string EffectiveServiceId => string.IsNullOrWhiteSpace(ServiceId) ? ClusterId : ServiceId;

    /// <summary>Checks values a person may have mistyped, with messages that say which key to fix.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ClusterId)) throw new ArgumentException("Silo:ClusterId must not be empty");
        if (SiloPort is < 0 or > 65535) throw new ArgumentException($"Silo:SiloPort {SiloPort} is not a TCP port");
        if (HeartbeatPeriod <= TimeSpan.Zero) throw new ArgumentException("Silo:HeartbeatPeriod must be positive");
        if (DeathTimeout <= HeartbeatPeriod * 2) throw new ArgumentException("Silo:DeathTimeout must exceed two heartbeat periods");
        if (CallTimeout <= TimeSpan.Zero) throw new ArgumentException("Silo:CallTimeout must be positive");
        if (MaxMessageBytes < 1024) throw new ArgumentException("Silo:MaxMessageBytes must be at least 1024");
        if (MaxForwardHops is < 1 or > 16) throw new ArgumentException("Silo:MaxForwardHops must be between 1 and 16");
    }
}
