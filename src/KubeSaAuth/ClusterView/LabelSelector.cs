// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using KubeSaAuth.Tokens;

namespace KubeSaAuth.ClusterView;

/// <summary>
/// A Kubernetes label selector in its string form (k8s.io/apimachinery/pkg/labels/selector.go): requirements
/// joined by commas (AND), each <c>key</c>, <c>!key</c>, <c>key=value</c>, <c>key==value</c>, <c>key!=value</c>,
/// <c>key in (a,b)</c>, <c>key notin (a,b)</c>, <c>key&gt;n</c>, <c>key&lt;n</c>; keys and values checked as Kubernetes
/// checks them. Matching allocates nothing. Unknown labels (<see langword="null"/>) match no selector, not even
/// <c>!key</c>: what the view does not know is never taken as a fact.
/// </summary>
internal sealed class LabelSelector
{
    private readonly Requirement[] _requirements;

    private LabelSelector(string text, Requirement[] requirements)
    {
        Text = text;
        _requirements = requirements;
    }

    /// <summary>The selector as written.</summary>
    public string Text { get; }

    /// <summary>The number of requirements; 0 for the empty selector, which matches every set of labels.</summary>
    public int Count => _requirements.Length;

    public static LabelSelector Parse(string text)
    {
        if (!TryParse(text, out var selector, out var error))
        {
            throw new FormatException(error);
        }

        return selector;
    }

    public static bool TryParse(string text, [NotNullWhen(true)] out LabelSelector? selector, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new Parser(text);
        var requirements = parser.Parse(out error);
        selector = requirements is null ? null : new LabelSelector(text, requirements);
        return selector is not null;
    }

    public bool Matches(IReadOnlyDictionary<string, string>? labels)
    {
        if (labels is null)
        {
            return false;
        }

        foreach (var requirement in _requirements)
        {
            if (!requirement.Matches(labels))
            {
                return false;
            }
        }

        return true;
    }

    public override string ToString() => Text;

    private enum Operator
    {
        Exists,
        DoesNotExist,
        Equals,
        NotEquals,
        In,
        NotIn,
        GreaterThan,
        LessThan,
    }

    private sealed class Requirement(string key, Operator op, string[] values)
    {
        public bool Matches(IReadOnlyDictionary<string, string> labels)
        {
            var has = labels.TryGetValue(key, out var value);
            switch (op)
            {
                case Operator.Exists:
                    return has;
                case Operator.DoesNotExist:
                    return !has;
                case Operator.Equals or Operator.In:
                    return has && Contains(value!);
                case Operator.NotEquals or Operator.NotIn:
                    // k8s: != and notin also match objects without the label.
                    return !has || !Contains(value!);
                default:
                    if (!has || !long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
                    {
                        return false;
                    }

                    var bound = long.Parse(values[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                    return op == Operator.GreaterThan ? number > bound : number < bound;
            }
        }

        private bool Contains(string value)
        {
            foreach (var candidate in values)
            {
                if (string.Equals(candidate, value, StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>A hand-written scanner over the text, with the lexer's rules of selector.go: identifiers end at white space or one of <c>,()=!&lt;&gt;</c>.</summary>
    private ref struct Parser(string text)
    {
        private int _pos;

        public Requirement[]? Parse(out string? error)
        {
            error = null;
            var requirements = new List<Requirement>();
            SkipSpace();
            if (AtEnd)
            {
                return [];
            }

            while (true)
            {
                var requirement = ParseRequirement(out error);
                if (requirement is null)
                {
                    return null;
                }

                requirements.Add(requirement);
                SkipSpace();
                if (AtEnd)
                {
                    return [.. requirements];
                }

                if (text[_pos] != ',')
                {
                    error = Fail($"expected ',' or the end, found '{text[_pos]}'");
                    return null;
                }

                _pos++;
                SkipSpace();
                if (AtEnd)
                {
                    error = Fail("a ',' must be followed by another requirement");
                    return null;
                }
            }
        }

        private readonly bool AtEnd => _pos >= text.Length;

        private Requirement? ParseRequirement(out string? error)
        {
            error = null;
            if (text[_pos] == '!')
            {
                _pos++;
                SkipSpace();
                var negated = ReadIdentifier();
                if ((error = CheckKey(negated)) is not null)
                {
                    return null;
                }

                return new Requirement(negated, Operator.DoesNotExist, []);
            }

            var key = ReadIdentifier();
            if ((error = CheckKey(key)) is not null)
            {
                return null;
            }

            SkipSpace();
            if (AtEnd || text[_pos] == ',')
            {
                return new Requirement(key, Operator.Exists, []);
            }

            Operator op;
            if (Take("=="))
            {
                op = Operator.Equals;
            }
            else if (Take("!="))
            {
                op = Operator.NotEquals;
            }
            else if (Take("="))
            {
                op = Operator.Equals;
            }
            else if (Take(">"))
            {
                op = Operator.GreaterThan;
            }
            else if (Take("<"))
            {
                op = Operator.LessThan;
            }
            else
            {
                var word = ReadIdentifier();
                if (word == "in")
                {
                    op = Operator.In;
                }
                else if (word == "notin")
                {
                    op = Operator.NotIn;
                }
                else
                {
                    error = Fail($"expected '=', '==', '!=', 'in', 'notin', '>' or '<' after the key '{key}', found '{(word.Length > 0 ? word : text[_pos].ToString())}'");
                    return null;
                }

                return ParseSet(key, op, out error);
            }

            SkipSpace();
            var value = ReadIdentifier();
            if (op is Operator.GreaterThan or Operator.LessThan)
            {
                if (!long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
                {
                    error = Fail($"'{key}{(op == Operator.GreaterThan ? ">" : "<")}' needs a whole number, found '{value}'");
                    return null;
                }
            }
            else if ((error = CheckValue(value)) is not null)
            {
                return null;
            }

            return new Requirement(key, op, [value]);
        }

        private Requirement? ParseSet(string key, Operator op, out string? error)
        {
            error = null;
            SkipSpace();
            if (AtEnd || text[_pos] != '(')
            {
                error = Fail($"'{key} {(op == Operator.In ? "in" : "notin")}' must be followed by '(' and values");
                return null;
            }

            _pos++;
            var values = new List<string>();
            while (true)
            {
                SkipSpace();
                var value = ReadIdentifier();
                if ((error = CheckValue(value)) is not null)
                {
                    return null;
                }

                values.Add(value);
                SkipSpace();
                if (AtEnd)
                {
                    error = Fail("a '(' is never closed");
                    return null;
                }

                if (text[_pos] == ')')
                {
                    _pos++;
                    break;
                }

                if (text[_pos] != ',')
                {
                    error = Fail($"expected ',' or ')' in the values of '{key}', found '{text[_pos]}'");
                    return null;
                }

                _pos++;
            }

            if (values.Count == 1 && values[0].Length == 0)
            {
                error = Fail($"'{key} {(op == Operator.In ? "in" : "notin")}' needs at least one value");
                return null;
            }

            return new Requirement(key, op, [.. values]);
        }

        private bool Take(string op)
        {
            if (string.CompareOrdinal(text, _pos, op, 0, op.Length) == 0)
            {
                _pos += op.Length;
                return true;
            }

            return false;
        }

        private string ReadIdentifier()
        {
            var start = _pos;
            while (!AtEnd && !IsSpecial(text[_pos]))
            {
                _pos++;
            }

            return text[start.._pos];
        }

        private void SkipSpace()
        {
            while (!AtEnd && char.IsWhiteSpace(text[_pos]))
            {
                _pos++;
            }
        }

        private readonly string Fail(string problem) => $"{problem} (at character {_pos + 1})";

        private readonly string? CheckKey(string key)
        {
            if (key.Length == 0)
            {
                return Fail("expected a label key");
            }

            // k8s validation.IsQualifiedName: [prefix/]name; prefix a DNS-1123 subdomain, name at most 63 characters.
            var slash = key.IndexOf('/', StringComparison.Ordinal);
            var name = slash < 0 ? key : key[(slash + 1)..];
            if (slash >= 0)
            {
                var prefix = key[..slash];
                if (prefix.Length == 0 || !KubernetesNames.IsDns1123Subdomain(prefix))
                {
                    return Fail($"the label key '{key}' has a prefix that is not a DNS-1123 subdomain (lower case letters, digits, '-' and '.')");
                }
            }

            if (name.Length == 0 || name.Length > 63 || !IsLabelName(name))
            {
                return Fail($"the label key '{key}' is not valid: a name of at most 63 characters, letters, digits, '-', '_' or '.', starting and ending with a letter or digit, optionally after a DNS subdomain prefix and '/'");
            }

            return null;
        }

        private readonly string? CheckValue(string value) =>
            value.Length == 0 || (value.Length <= 63 && IsLabelName(value))
                ? null
                : Fail($"the label value '{value}' is not valid: at most 63 characters, letters, digits, '-', '_' or '.', starting and ending with a letter or digit");

        private static bool IsSpecial(char c) => char.IsWhiteSpace(c) || c is ',' or '(' or ')' or '=' or '!' or '<' or '>';

        // k8s validation: ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
        private static bool IsLabelName(string value)
        {
            if (!char.IsAsciiLetterOrDigit(value[0]) || !char.IsAsciiLetterOrDigit(value[^1]))
            {
                return false;
            }

            foreach (var c in value)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.'))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
