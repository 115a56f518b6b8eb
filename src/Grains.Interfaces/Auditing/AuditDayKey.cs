namespace RagCluster.Grains.Interfaces.Auditing;

/// <summary>An audit grain's key, the UTC day "yyyy-MM-dd" its entries fall on, spelled once for writers and readers.</summary>
public static class AuditDayKey
{
    public static IAuditGrain AuditDay(this IGrainFactory grains, DateTimeOffset at) => grains.GetGrain<IAuditGrain>(Of(at));

    public static string Of(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
}
