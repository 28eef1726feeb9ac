-- 0006: subscription plans, user subscriptions (written by the Stripe webhook as service_role) and
-- the processed-webhook ledger.

CREATE TABLE public.subscription_plans (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    description text,
    plan_type varchar(20) NOT NULL DEFAULT 'monthly' CHECK (plan_type IN ('monthly', 'yearly', 'lifetime')),
    price decimal(10, 2) NOT NULL CHECK (price >= 0),
    currency varchar(3) NOT NULL DEFAULT 'USD',
    stripe_price_id text UNIQUE,
    features jsonb NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    trial_days integer NOT NULL DEFAULT 0 CHECK (trial_days >= 0),
    max_users integer,                  -- for team plans
    level_access_limit integer NOT NULL DEFAULT 99,   -- max level accessible
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.user_subscriptions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE NOT NULL,
    plan_id uuid REFERENCES public.subscription_plans (id) ON DELETE RESTRICT NOT NULL,
    stripe_subscription_id text UNIQUE,
    status varchar(20) NOT NULL DEFAULT 'active' CHECK (
        status IN ('active', 'past_due', 'canceled', 'unpaid', 'trialing')
    ),
    current_period_start timestamptz,
    current_period_end timestamptz,
    trial_end timestamptz,
    cancel_at_period_end boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_subscription_plans_active ON public.subscription_plans (is_active) WHERE is_active = true;
CREATE INDEX idx_user_subscriptions_user ON public.user_subscriptions (user_id);
CREATE INDEX idx_user_subscriptions_status ON public.user_subscriptions (status);
CREATE INDEX idx_user_subscriptions_user_status ON public.user_subscriptions (user_id, status);
CREATE INDEX idx_user_subscriptions_plan ON public.user_subscriptions (plan_id);

CREATE TRIGGER trg_subscription_plans_updated_at BEFORE UPDATE ON public.subscription_plans
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER trg_user_subscriptions_updated_at BEFORE UPDATE ON public.user_subscriptions
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- Stripe webhook events already received: INSERT ... ON CONFLICT (id) DO NOTHING makes a replay a no-op.
CREATE TABLE billing.stripe_events (
    id text PRIMARY KEY,
    type text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);

CREATE INDEX idx_stripe_events_received ON billing.stripe_events (received_at);

-- Idempotency-Key replay store for POST routes that create (service_role only).
CREATE TABLE private.idempotency_keys (
    user_id uuid NOT NULL,
    key text NOT NULL,
    route text NOT NULL,
    status_code integer NOT NULL,
    body bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key, route)
);

CREATE INDEX idx_idempotency_keys_created ON private.idempotency_keys (created_at);
