using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace RagCluster.Configuration;

/// <summary>Settings a person writes. <see cref="Validate"/> throws an <see cref="ArgumentException"/> whose one line names the key to fix.</summary>
public interface IValidatedOptions
{
    void Validate();

    /// <summary>One line naming the key and its range when a time span is outside it.</summary>
    static void TimeRange(string key, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max) throw new ArgumentException($"{key} must be {min:c}..{max:c}");
    }
}

public static class ValidatedOptionsExtensions
{
    /// <summary>
    /// <typeparamref name="T"/> as <c>IOptions&lt;T&gt;</c>, bound from one configuration section and checked when the
    /// host starts (<c>ValidateOnStart</c>): a mistyped value stops the process with its one line, before the silo joins,
    /// instead of surfacing at the first request that reads it.
    /// </summary>
    public static OptionsBuilder<T> AddValidatedOptions<T>(this IServiceCollection services, IConfiguration configuration, string section)
        where T : class, IValidatedOptions
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<T>, SelfValidation<T>>());
        return services.AddOptions<T>().Bind(configuration.GetSection(section)).ValidateOnStart();
    }

    /// <summary>
    /// For the few settings that decide what is registered at all (which clustering, which sign-in schemes, whether an
    /// LLM client exists): read and checked while the host is being built, which is before it can start.
    /// </summary>
    public static T GetValidated<T>(this IConfiguration configuration, string section) where T : class, IValidatedOptions, new()
    {
        var options = new T();
        configuration.GetSection(section).Bind(options);
        options.Validate();
        return options;
    }

    private sealed class SelfValidation<T> : IValidateOptions<T> where T : class, IValidatedOptions
    {
        public ValidateOptionsResult Validate(string? name, T options)
        {
            try
            {
                options.Validate();
                return ValidateOptionsResult.Success;
            }
            catch (ArgumentException e)
            {
                return ValidateOptionsResult.Fail(e.Message);
            }
        }
    }
}
