namespace RagCluster.Grains.Placement;

/// <summary>
/// Lets a <see cref="RendezvousPlacement"/> grain notice that the cluster changed under it and move to its new home,
/// so long-lived shards and cache partitions spread onto a silo that joins. Orleans re-places a grain only when it
/// activates; this checks every <see cref="CheckPeriod"/> and asks Orleans to migrate the grain when it is idle.
/// </summary>
public sealed class HomeSilo(IClusterMembershipService membership, ILocalSiloDetails local, TimeSpan checkPeriod)
{
    // One reference, swapped whole: timers on many grains read it concurrently, and a struct pair could tear.
    private sealed record View(MembershipVersion Version, SiloAddress[] Active);
    private View _view = new(MembershipVersion.MinValue, []);

    public TimeSpan CheckPeriod { get; } = checkPeriod;

    /// <summary>Where <paramref name="grain"/> should live now, by this silo's view of the active silos.</summary>
    public SiloAddress HomeOf(GrainId grain)
    {
        var snapshot = membership.CurrentSnapshot;
        var view = _view;
        if (view.Version != snapshot.Version)
            _view = view = new View(snapshot.Version, snapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToArray());
        return view.Active.Length == 0 ? local.SiloAddress : Rendezvous.Home(grain, view.Active);
    }

    public bool IsHere(GrainId grain) => HomeOf(grain).Equals(local.SiloAddress);

    /// <summary>
    /// Starts the check for <paramref name="grain"/>: a timer that neither keeps it alive nor blocks its calls. With
    /// <paramref name="mayLeave"/>, the grain moves only once it says yes (asked at each check while it is away from home).
    /// </summary>
    public void Follow(Grain grain, Func<Task<bool>>? mayLeave = null)
    {
        if (CheckPeriod <= TimeSpan.Zero) return;
        grain.RegisterGrainTimer(async () =>
        {
            if (!IsHere(grain.GetGrainId()) && (mayLeave is null || await mayLeave()))
                ((IGrainBase)grain).MigrateOnIdle(); // placement (the director above) picks the same home
        }, new GrainTimerCreationOptions(CheckPeriod, CheckPeriod) { Interleave = true, KeepAlive = false });
    }
}
