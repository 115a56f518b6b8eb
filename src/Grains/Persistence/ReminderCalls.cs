using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Storage.Faults;

namespace RagCluster.Grains.Persistence;

/// <summary>The reminder table is storage too: its failures reach callers as ours (a 503), not as the driver's.</summary>
public static class ReminderCalls
{
    public static async Task<T> Run<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (OrleansException e) when (e.GetType() == typeof(OrleansException) && e.InnerException is null or TimeoutException)
        {
            // The reminder service itself is not ready (still loading, or its first load failed): say so, not "timed out".
            throw new StorageUnavailableException($"reminder service unavailable: {e.Message.Split('\n')[0].Trim()}");
        }
        catch (Exception e) when (StoreFaults.Translate(e, "a reminder change") is { } ours)
        {
            throw ours;
        }
        catch (ReminderException e)
        {
            throw new StorageUnavailableException($"reminder table unavailable: {e.Message.Split('\n')[0].Trim()}");
        }
    }

    public static Task<bool> Run(Func<Task> call) => Run(async () => { await call(); return true; });

    /// <summary>Unregisters the grain's reminder of that name, if it has one.</summary>
    public static async Task UnregisterAsync(IGrainBase grain, string name)
    {
        if (await Run(() => grain.GetReminder(name)) is { } reminder) await Run(() => grain.UnregisterReminder(reminder));
    }
}
