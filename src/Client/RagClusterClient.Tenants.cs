namespace RagCluster.Client;

// A tenant's share: an operator sets its limits; the tenant's admin reads its usage. A write past a limit fails whole
// with a 403 RagClusterException (title "Tenant limit reached") whose detail names the limit and the usage.
public sealed partial class RagClusterClient
{
    /// <summary>Replaces the tenant's limits (each null: unlimited). Operators only.</summary>
    public Task<TenantLimits> SetTenantLimitsAsync(string tenant, TenantLimits limits, CancellationToken ct = default) =>
        SendJsonAsync<TenantLimits>(HttpMethod.Put, $"v1/admin/tenants/{Segment(tenant)}/limits", limits, ct);

    public Task<TenantLimits> GetTenantLimitsAsync(string tenant, CancellationToken ct = default) =>
        GetAsync<TenantLimits>($"v1/admin/tenants/{Segment(tenant)}/limits", ct);

    /// <summary>What the tenant stores now (counted by its collections as they accept and delete), against its limits.</summary>
    public Task<TenantUsage> GetTenantUsageAsync(string tenant, CancellationToken ct = default) =>
        GetAsync<TenantUsage>($"v1/admin/tenants/{Segment(tenant)}/usage", ct);
}
