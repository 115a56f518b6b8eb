namespace RagCluster.Grains.Collections;

/// <summary>Bound from "Backup".</summary>
public sealed class BackupOptions : RagCluster.Configuration.IValidatedOptions
{
    /// <summary>How long a restore may go without a sign of life before its collection gives it up.</summary>
    public TimeSpan RestoreLease { get; set; } = TimeSpan.FromMinutes(2);

    public void Validate() => RagCluster.Configuration.IValidatedOptions.TimeRange("Backup:RestoreLease", RestoreLease, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
}
