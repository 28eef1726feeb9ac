-- 0010: billing. The ordering key of the Stripe state each subscription row holds, so an older webhook
-- event never overwrites newer state (rule in hub/billing/webhooks.py); an index for the public plan
-- list; and subscribers keep seeing a plan that is no longer sold, so the plan rule still counts it.

-- `created` of the Stripe event whose state the row holds (NULL: written before this migration).
ALTER TABLE public.user_subscriptions ADD COLUMN stripe_state_at timestamptz;

CREATE INDEX idx_subscription_plans_active_price ON public.subscription_plans (price, id) WHERE is_active;

-- Permissive policies are OR-ed with subscription_plans_select (active plans, or admins).
CREATE POLICY subscription_plans_select_subscribed ON public.subscription_plans
    FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM public.user_subscriptions s
                   WHERE s.plan_id = subscription_plans.id AND s.user_id = auth.uid()));
